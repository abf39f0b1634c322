package campaigns

import "time"

// The caps of an ACTIVITY_REWARD campaign (ActivityCaps): how many of a member's
// activities it rewards per day, week and month of the program's time zone, and
// per activity key. Each is a rule of its own, checked in that order by
// activityCapRefusal for the batch's decisions and the dry run alike.

// Refusal reasons of the activity caps.
const (
	RefusedDailyCap       = "DAILY_CAP_REACHED"
	RefusedWeeklyCap      = "WEEKLY_CAP_REACHED"
	RefusedMonthlyCap     = "MONTHLY_CAP_REACHED"
	RefusedActivityKeyCap = "ACTIVITY_KEY_CAP_REACHED"
	RefusedNotEligible    = "NOT_ELIGIBLE"
)

// activityGrant is what a campaign granted one activity of a member.
type activityGrant struct {
	campaignID  string
	activityKey string
	occurTime   time.Time
	entryID     int64
}

// dayOf is the calendar day of t in loc, as [start, end): midnight to midnight,
// whatever daylight saving does to the day's length.
func dayOf(t time.Time, loc *time.Location) (start, end time.Time) {
	l := t.In(loc)
	start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return start, time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}

// weekOf is the week of t in loc, Monday 00:00 to the next Monday 00:00 (ISO 8601
// weeks start on Monday, as the shops' calendars do).
func weekOf(t time.Time, loc *time.Location) (start, end time.Time) {
	l := t.In(loc)
	back := (int(l.Weekday()) + 6) % 7 // days since Monday
	start = time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, loc)
	return start, time.Date(l.Year(), l.Month(), l.Day()-back+7, 0, 0, 0, 0, loc)
}

// monthOf is the calendar month of t in loc.
func monthOf(t time.Time, loc *time.Location) (start, end time.Time) {
	l := t.In(loc)
	start = time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	return start, time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, loc)
}

// capsSince is the earliest instant the caps of an activity at t look back to:
// the start of its week or of its month, whichever is earlier.
func capsSince(t time.Time, loc *time.Location) time.Time {
	w, _ := weekOf(t, loc)
	m, _ := monthOf(t, loc)
	if w.Before(m) {
		return w
	}
	return m
}

// grantsIn counts the campaign's grants of activities that occurred in [start, end).
func grantsIn(grants []activityGrant, campaignID string, start, end time.Time) int32 {
	var n int32
	for _, g := range grants {
		if g.campaignID == campaignID && !g.occurTime.Before(start) && g.occurTime.Before(end) {
			n++
		}
	}
	return n
}

// dailyCapReached: the campaign rewarded the member's activities perDay times on
// the activity's day already.
func dailyCapReached(caps ActivityCaps, grants []activityGrant, campaignID string, at time.Time, loc *time.Location) bool {
	start, end := dayOf(at, loc)
	return caps.PerDay > 0 && grantsIn(grants, campaignID, start, end) >= caps.PerDay
}

// weeklyCapReached: perWeek times in the activity's week (Monday to Sunday).
func weeklyCapReached(caps ActivityCaps, grants []activityGrant, campaignID string, at time.Time, loc *time.Location) bool {
	start, end := weekOf(at, loc)
	return caps.PerWeek > 0 && grantsIn(grants, campaignID, start, end) >= caps.PerWeek
}

// monthlyCapReached: perMonth times in the activity's calendar month.
func monthlyCapReached(caps ActivityCaps, grants []activityGrant, campaignID string, at time.Time, loc *time.Location) bool {
	start, end := monthOf(at, loc)
	return caps.PerMonth > 0 && grantsIn(grants, campaignID, start, end) >= caps.PerMonth
}

// activityKeyCapReached: perActivityKey activities with this key (of any of the
// campaign's types) were rewarded already. An activity without a key has none.
func activityKeyCapReached(caps ActivityCaps, grants []activityGrant, campaignID, key string) bool {
	if caps.PerActivityKey == 0 || key == "" {
		return false
	}
	var n int32
	for _, g := range grants {
		if g.campaignID == campaignID && g.activityKey == key {
			n++
		}
	}
	return n >= caps.PerActivityKey
}

// activityCapRefusal is the caps' answer for an activity at t: the first cap it
// reaches (per activity key, day, week, month), or "" when the campaign may reward it.
func activityCapRefusal(caps ActivityCaps, grants []activityGrant, campaignID, key string, at time.Time, loc *time.Location) string {
	switch {
	case activityKeyCapReached(caps, grants, campaignID, key):
		return RefusedActivityKeyCap
	case dailyCapReached(caps, grants, campaignID, at, loc):
		return RefusedDailyCap
	case weeklyCapReached(caps, grants, campaignID, at, loc):
		return RefusedWeeklyCap
	case monthlyCapReached(caps, grants, campaignID, at, loc):
		return RefusedMonthlyCap
	}
	return ""
}
