import { useEffect, useRef, useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, points, t } from "../i18n/i18n";
import { eventsQuery, eventTypes, newestFirst, type EventFilter } from "../logic";
import { href } from "../route";
import { errorText } from "./App";

type FeedEvent = Defs["v1Event"];

// How often the view asks for what came after the last event it has, and how many
// events it keeps on screen (the newest).
const pollMs = 2000;
const keep = 200;
const pageSize = 500;

/** Events is the feed (admin, auditor), live: it reads from the start of the feed
 * (or of the filter's events) and, once caught up, asks every two seconds for what
 * came after the last position it has. The newest 200 are shown, newest first. */
export function Events() {
  const [filter, setFilter] = useState<EventFilter>({ types: [], memberId: "" });
  const [typed, setTyped] = useState<EventFilter>({ types: [], memberId: "" });
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [seen, setSeen] = useState(0);
  const [live, setLive] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [caughtUp, setCaughtUp] = useState(false);
  const cursor = useRef("");

  useEffect(() => {
    cursor.current = "";
    setEvents([]);
    setSeen(0);
    setCaughtUp(false);
    setError(null);
  }, [filter]);

  useEffect(() => {
    if (!live) return;
    let stopped = false;
    let timer = 0;
    // read follows the feed: page after page while pages are full, then a poll.
    const read = async () => {
      try {
        const r = await call("get", "/v1/events", { query: eventsQuery(filter, cursor.current, pageSize) });
        if (stopped) return;
        const page = r.events ?? [];
        cursor.current = r.nextPosition ?? cursor.current;
        if (page.length) {
          setEvents((shown) => newestFirst(shown, page, keep));
          setSeen((n) => n + page.length);
        }
        setError(null);
        const full = page.length === pageSize;
        setCaughtUp(!full);
        timer = window.setTimeout(read, full ? 0 : pollMs);
      } catch (err) {
        if (stopped) return;
        setError(err);
        timer = window.setTimeout(read, pollMs * 3);
      }
    };
    read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [filter, live]);

  const apply = (e: Event) => {
    e.preventDefault();
    setFilter({ types: typed.types, memberId: typed.memberId.trim() });
  };

  return (
    <section class="card wide" aria-labelledby="events-title">
      <div class="title-row">
        <h1 id="events-title">{t("events.title")}</h1>
        <span class="live">
          <button type="button" class="secondary" aria-pressed={live} onClick={() => setLive(!live)}>
            {live ? t("events.pause") : t("events.resume")}
          </button>
        </span>
      </div>
      <form class="filters" onSubmit={apply} aria-label={t("audit.filter")}>
        <div>
          <label for="ev-type">{t("events.type")}</label>
          <select
            id="ev-type"
            value={typed.types[0] ?? ""}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              const next = { ...typed, types: v ? [v] : [] };
              setTyped(next);
              setFilter({ ...next, memberId: next.memberId.trim() });
            }}
          >
            <option value="">{t("events.allTypes")}</option>
            {eventTypes.map((ty) => (
              <option value={ty} translate={false}>
                {ty}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="ev-member">{t("events.member")}</label>
          <input id="ev-member" autocomplete="off" value={typed.memberId} onInput={(e) => setTyped({ ...typed, memberId: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="end">
          <button type="submit">{t("audit.filter")}</button>
        </div>
      </form>
      <p class="muted small" role="status" data-testid="events-status">
        {!live
          ? t("events.paused", { count: points(seen) })
          : caughtUp
            ? t("events.following", { count: points(seen) })
            : t("events.catchingUp", { count: points(seen) })}
      </p>
      {error !== null && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      {events.length === 0 ? (
        caughtUp && <p class="muted">{t("events.none")}</p>
      ) : (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="events-title">
          <table data-testid="events">
            <thead>
              <tr>
                <th scope="col">{t("events.time")}</th>
                <th scope="col">{t("events.type")}</th>
                <th scope="col">{t("events.member")}</th>
                <th scope="col">{t("events.data")}</th>
              </tr>
            </thead>
            <tbody>
              {events.map((ev) => (
                <tr>
                  <td class="time">{dateTime(ev.occurTime)}</td>
                  <td>
                    <code translate={false}>{ev.type}</code>
                  </td>
                  <td translate={false}>
                    {ev.memberId && (
                      <>
                        <a href={href({ name: "member", memberId: ev.memberId })}>{ev.memberId}</a> #{ev.memberSeq}
                      </>
                    )}
                  </td>
                  <td class="data">
                    <code translate={false}>{JSON.stringify(ev.data ?? {})}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
