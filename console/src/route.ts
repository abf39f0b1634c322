// Routes live in the URL's fragment (#/members/alice), so that loyaltyd serves one
// index.html and a reload or a shared link opens the same screen.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "find" }
  | { name: "member"; memberId: string }
  | { name: "approvals" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "members" && parts[1]) return { name: "member", memberId: parts[1] };
  if (parts[0] === "approvals") return { name: "approvals" };
  return { name: "find" };
}

export function href(r: Route): string {
  switch (r.name) {
    case "member":
      return `#/members/${encodeURIComponent(r.memberId)}`;
    case "approvals":
      return "#/approvals";
    default:
      return "#/";
  }
}

export function go(r: Route): void {
  location.hash = href(r);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
