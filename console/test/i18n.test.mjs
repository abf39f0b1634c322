// The catalogues: both languages have the same keys and placeholders, every key the
// sources use exists, and no text a user sees is written in the sources instead of
// a catalogue.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const root = new URL("..", import.meta.url).pathname;
const en = JSON.parse(readFileSync(join(root, "src/i18n/en.json"), "utf8"));
const zh = JSON.parse(readFileSync(join(root, "src/i18n/zh-CN.json"), "utf8"));

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "api" ? [] : sources(p);
    return /\.tsx?$/.test(name) ? [p] : [];
  });
}
const files = sources(join(root, "src")).map((p) => ({ p, text: readFileSync(p, "utf8") }));
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("both catalogues have the same keys", () => {
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
});

test("every translation fills the same placeholders and is not empty", () => {
  for (const key of Object.keys(en)) {
    assert.ok(en[key].trim() && zh[key]?.trim(), `${key} is empty`);
    assert.deepEqual(placeholders(zh[key]), placeholders(en[key]), `${key}: placeholders differ`);
  }
});

test("the Chinese catalogue is translated", () => {
  // Names that read the same in both languages.
  const same = new Set(["lang.en", "lang.zh-CN", "priority.VIP"]);
  for (const key of Object.keys(en)) {
    if (same.has(key) || !/[A-Za-z]{3}/.test(en[key].replace(/\{\w+\}/g, ""))) continue;
    assert.notEqual(zh[key], en[key], `${key} is not translated`);
  }
});

test("every key the sources use is in the catalogue", () => {
  for (const { p, text } of files) {
    for (const m of text.matchAll(/\bt\(\s*"([^"]+)"/g)) assert.ok(m[1] in en, `${p}: t("${m[1]}") is not in en.json`);
    for (const m of text.matchAll(/\bt\(\s*([a-z]+\.[a-z]+)\s*\?\s*"([^"]+)"\s*:\s*"([^"]+)"/gi)) {
      assert.ok(m[2] in en && m[3] in en, `${p}: ${m[0]}`);
    }
  }
});

test("every code the console shows has a translation", () => {
  // tCode("prefix", x) shows a code the API answers; the lists the console offers
  // (entry kinds, reasons) must all be translated.
  const lists = { kind: "Statement.tsx", reason: "Goodwill.tsx" };
  for (const [prefix, file] of Object.entries(lists)) {
    const text = files.find((f) => f.p.endsWith(file)).text;
    const codes = [...text.matchAll(/^\s*"([A-Z_]+)",?$/gm)].map((m) => m[1]);
    assert.ok(codes.length > 3, `${file}: no codes found`);
    for (const c of codes) assert.ok(`${prefix}.${c}` in en, `${prefix}.${c} is not in en.json`);
  }
});

test("no user-visible text is written in the sources", () => {
  // The TypeScript parser finds JSX text and the string attributes people read or
  // hear; none may hold words: they come from t().
  const spoken = new Set(["aria-label", "title", "placeholder", "alt", "label"]);
  for (const { p, text } of files.filter((f) => f.p.endsWith(".tsx"))) {
    const sf = ts.createSourceFile(p, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
    const visit = (node) => {
      if (ts.isJsxText(node) && /[A-Za-z\u4e00-\u9fff]{2}/.test(node.text)) {
        assert.fail(`${p}: text "${node.text.trim()}" is not translated`);
      }
      if (ts.isJsxAttribute(node) && spoken.has(node.name.getText(sf)) && node.initializer && ts.isStringLiteral(node.initializer)) {
        assert.fail(`${p}: ${node.name.getText(sf)}="${node.initializer.text}" is not translated`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
});
