// The signed-in key lives in sessionStorage: it goes with the tab, and signing out
// removes it.
const storageKey = "loyalty-console.key";

export function storedKey(): string {
  return sessionStorage.getItem(storageKey) ?? "";
}

export function storeKey(key: string): void {
  sessionStorage.setItem(storageKey, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(storageKey);
}
