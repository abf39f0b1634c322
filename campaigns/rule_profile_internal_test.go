package campaigns

import (
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Rules read the member's profile and the activity.
func TestRulesReadTheProfileAndTheActivity(t *testing.T) {
	rule, err := CompileRule(`member.birthday.month == 5 && member.attributes["city"] == "Shanghai" && member.channel == "app" && activity.attributes["photos"] != "0"`)
	if err != nil {
		t.Fatal(err)
	}
	var m MemberFacts
	profileFacts(&m, ledger.Profile{Birthday: &ledger.Birthday{Month: 5, Day: 17}, Channel: "app", Attributes: map[string]string{"city": "Shanghai"}})
	for _, c := range []struct {
		f    Facts
		want bool
	}{
		{Facts{Member: m, Activity: ActivityFacts{Attributes: map[string]string{"photos": "3"}}}, true},
		{Facts{Member: m, Activity: ActivityFacts{Attributes: map[string]string{"photos": "0"}}}, false},
	} {
		got, err := rule.Eval(c.f)
		if err != nil || got != c.want {
			t.Errorf("%+v: %v (%v), want %v", c.f.Activity, got, err, c.want)
		}
	}
	var none MemberFacts
	profileFacts(&none, ledger.Profile{})
	// No birthday told: month 0, the rule is false (CEL's && skips the missing attribute).
	if ok, err := rule.Eval(Facts{Member: none, Activity: ActivityFacts{Attributes: map[string]string{}}}); ok || err != nil {
		t.Errorf("a member without a profile: %v (%v), want false", ok, err)
	}
	if ok, err := mustRule(t, `"vip" in member.attributes`).Eval(Facts{Member: none}); err != nil || ok {
		t.Errorf("no attributes: %v %v", ok, err)
	}
}

func mustRule(t *testing.T, src string) *Rule {
	t.Helper()
	r, err := CompileRule(src)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
