// Routes live in the URL's fragment (#/members/alice), so that loyaltyd serves one
// index.html and a reload or a shared link opens the same screen.
import { useEffect, useState } from "preact/hooks";
import { href, parseRoute, type Route } from "./logic";

export { href, type Route };

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
