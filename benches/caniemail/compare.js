#!/usr/bin/env node
// Lints built emails with @jsx-email/doiuse-email (caniemail.com's data) and
// prints them side by side.
//
//   NODE_PATH=target/caniemail/node_modules node compare.js \
//     [--clients GLOBS] [--extra CLIENTS] [--info TEXT] \
//     LABEL=FILE LABEL=FILE [LABEL=FILE...]
//
// The first file is the candidate, the second the baseline; any further ones
// are shown for reference only. A feature counts once however often, and in
// however many clients, it occurs: "unsupported" are the features
// doiuse-email reports as errors (the latest version of at least one client
// does not support it), "partial" those it reports as warnings (partial
// support in at least one client); one feature can be in both.
//
// Two passes: doiuse-email as published, and a stricter one that also lints
// the rules nested inside @media blocks (doiuse-email only looks at
// top-level rules, so selectors and properties in phone or dark-mode rules
// are otherwise never checked). Exits 1 unless the candidate uses fewer
// unsupported features than the baseline in both passes.

'use strict';

const fs = require('fs');
const vm = require('vm');
const { DoIUseEmail } = require('@jsx-email/doiuse-email');
const doiusePkg = require('@jsx-email/doiuse-email/package.json');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const globs = list(opt('--clients', 'gmail.*,outlook.windows,outlook.windows-mail,apple-mail.*,yahoo.*,samsung-email.*'));
const extra = list(opt('--extra', ''));
const info = opt('--info', '');
const files = args.map((a) => {
  const i = a.indexOf('=');
  return { label: a.slice(0, i), file: a.slice(i + 1) };
});
if (files.length < 2 || files.some((f) => !f.label || !f.file)) {
  console.error('usage: compare.js [--clients GLOBS] [--extra CLIENTS] [--info TEXT] LABEL=FILE LABEL=FILE [LABEL=FILE...]');
  process.exit(2);
}

const OUTLOOK_WINDOWS = ['outlook.windows', 'outlook.windows-mail'];

// The caniemail data bundled in doiuse-email (not exported): only for its
// date and for the version check in the notes. Nothing is judged from it.
function bundledData() {
  try {
    const src = fs.readFileSync(require.resolve('@jsx-email/doiuse-email'), 'utf8');
    const a = src.indexOf('var can_i_email_default = ');
    const b = src.indexOf('var canIEmailData', a);
    if (a < 0 || b < 0) return null;
    const obj = src.slice(a + 'var can_i_email_default = '.length, b);
    return vm.runInNewContext(`(${obj.slice(0, obj.lastIndexOf('}') + 1)})`);
  } catch {
    return null;
  }
}
const data = bundledData();

// doiuse-email with a note of where each finding comes from, and optionally
// the rules inside @media linted too.
class Located extends DoIUseEmail {
  constructor(options, strict) {
    super(options);
    this.strict = strict;
    this.where = '<style>';
    this.found = { error: new Map(), warning: new Map() };
  }
  record(kind, message) {
    const re = kind === 'error' ? /^`(.+)` is not supported by `([^`]+)`$/ : /^`(.+)` is only partially supported by `([^`]+)`$/;
    const m = re.exec(message);
    if (!m) throw new Error(`unexpected doiuse-email message: ${message}`);
    const [, feature, client] = m;
    const map = this.found[kind];
    if (!map.has(feature)) map.set(feature, { clients: new Set(), where: new Set() });
    map.get(feature).clients.add(client);
    map.get(feature).where.add(this.where);
  }
  error(message) {
    super.error(message);
    this.record('error', message);
  }
  warning(message) {
    super.warning(message);
    this.record('warning', message);
  }
  checkStylesheet(stylesheet) {
    const prev = this.where;
    this.where = '<style>';
    super.checkStylesheet(stylesheet);
    if (this.strict) {
      for (const rule of stylesheet.stylesheet?.rules ?? []) {
        if (rule.rules) {
          this.where = `<style> @${rule.type} ${rule[rule.type] ?? ''}`.trim();
          super.checkStylesheet({ stylesheet: { rules: rule.rules } });
        }
      }
    }
    this.where = prev;
  }
  checkHtmlNode(node) {
    const prev = this.where;
    const cls = (node.attribs?.class || '').trim().split(/\s+/)[0];
    this.where = `<${node.tagName}${cls ? `.${cls}` : ''}>`;
    super.checkHtmlNode(node);
    this.where = prev;
  }
}

function lint(html, strict) {
  const d = new Located({ emailClients: globs }, strict);
  // Clients in the bundled caniemail data but missing from doiuse-email's own
  // list (outlook.outlook-com): checked with the same code and data.
  for (const c of extra) if (!d.emailClients.includes(c)) d.emailClients.push(c);
  d.check(html);
  return { clients: d.emailClients, errors: d.found.error, warnings: d.found.warning };
}

const results = files.map((f) => {
  const html = fs.readFileSync(f.file, 'utf8');
  return { ...f, bytes: Buffer.byteLength(html), plain: lint(html, false), strict: lint(html, true) };
});
const [cand, base] = results;
const clients = cand.plain.clients;

// "gmail.*" when every gmail client of the run is in the set.
function clientList(set) {
  const fams = new Map();
  for (const c of clients) {
    const fam = c.split('.')[0];
    if (!fams.has(fam)) fams.set(fam, []);
    fams.get(fam).push(c);
  }
  const out = [];
  for (const [fam, members] of fams) {
    const hit = members.filter((c) => set.has(c));
    if (hit.length === members.length && members.length > 1) out.push(`${fam}.*`);
    else out.push(...hit);
  }
  return out.join(', ');
}
const whereList = (set, n = 4) => {
  const w = [...set];
  return w.slice(0, n).join(' ') + (w.length > n ? ` (+${w.length - n} more)` : '');
};
const inOutlookWin = (m) => [...m].filter(([, v]) => OUTLOOK_WINDOWS.some((c) => v.clients.has(c)));

const W = 38;
const C = Math.max(12, ...results.map((r) => r.label.length + 2));
const row = (name, f) => console.log(name.padEnd(W) + results.map((r) => String(f(r)).padStart(C)).join(''));

console.log(`doiuse-email ${doiusePkg.version}, caniemail data of ${data?.last_update_date ?? 'unknown date'}${info ? `; ${info}` : ''}`);
console.log(`clients (${clients.length}): ${clients.join(', ')}`);
if (results.length > 2) console.log(`(${results.slice(2).map((r) => r.label).join(', ')}: for reference, not judged)`);
console.log('');
row('', (r) => r.label);
row('unsupported features (errors)', (r) => r.plain.errors.size);
row('partially supported (warnings)', (r) => r.plain.warnings.size);
row('unsupported in Outlook for Windows', (r) => inOutlookWin(r.plain.errors).length);
row('with rules inside @media linted too:', () => '');
row('  unsupported features', (r) => r.strict.errors.size);
row('  partially supported', (r) => r.strict.warnings.size);
row('  unsupported in Outlook for Windows', (r) => inOutlookWin(r.strict.errors).length);
row('HTML bytes', (r) => r.bytes);

for (const r of results.slice(0, 2)) {
  console.log('');
  console.log(`${r.label}: unsupported (${r.plain.errors.size})   [clients]  used in`);
  for (const [f, v] of [...r.plain.errors].sort()) {
    console.log(`  - ${f}  [${clientList(v.clients)}]  ${whereList(v.where)}`);
  }
  const strictOnly = [...r.strict.errors].filter(([f]) => !r.plain.errors.has(f)).sort();
  if (strictOnly.length) {
    console.log(`  and only inside @media:`);
    for (const [f, v] of strictOnly) console.log(`  - ${f}  [${clientList(v.clients)}]  ${whereList(v.where, 2)}`);
  }
  console.log(`${r.label}: partial (${r.plain.warnings.size})`);
  for (const [f, v] of [...r.plain.warnings].sort()) console.log(`  ~ ${f}  [${clientList(v.clients)}]`);
  const strictOnlyW = [...r.strict.warnings].filter(([f]) => !r.plain.warnings.has(f)).sort();
  if (strictOnlyW.length) {
    console.log(`  and only inside @media:`);
    for (const [f, v] of strictOnlyW) console.log(`  ~ ${f}  [${clientList(v.clients)}]`);
  }
}

const names = (m) => new Set(m.keys());
const only = (a, b) => [...a].filter((x) => !b.has(x)).sort();
for (const pass of ['plain', 'strict']) {
  const a = names(cand[pass].errors);
  const b = names(base[pass].errors);
  console.log('');
  console.log(pass === 'plain' ? 'unsupported features compared:' : 'the same, with rules inside @media linted too:');
  console.log(`  ${base.label} only: ${only(b, a).join('; ') || '(none)'}`);
  console.log(`  ${cand.label} only: ${only(a, b).join('; ') || '(none)'}`);
  console.log(`  both: ${[...a].filter((x) => b.has(x)).sort().join('; ') || '(none)'}`);
}

console.log('');
const checkedWin = clients.filter((c) => OUTLOOK_WINDOWS.includes(c));
const win = inOutlookWin(cand.strict.errors);
if (!checkedWin.length) {
  console.log(`Outlook for Windows: not among the clients checked (${OUTLOOK_WINDOWS.join(', ')})`);
} else if (win.length) {
  console.log(`Outlook for Windows: ${cand.label} uses ${win.length} feature(s) caniemail marks unsupported there:`);
  for (const [f, v] of win) {
    const cs = [...v.clients].filter((c) => OUTLOOK_WINDOWS.includes(c));
    console.log(`  ! ${f}  [${cs.join(', ')}]  used in ${whereList(v.where, 6)}`);
  }
} else {
  console.log(`Outlook for Windows: ${cand.label} uses no feature unsupported by ${checkedWin.join(' or ')}`);
}

// doiuse-email takes a client's "latest" version as the last key in string
// order ("6.1" after "12.2"); say so where that changes a verdict used here.
if (data) {
  const numeric = new Intl.Collator('en', { numeric: true });
  const notes = [];
  const used = new Set(results.slice(0, 2).flatMap((r) => [...r.strict.errors.keys(), ...r.strict.warnings.keys()]));
  for (const f of data.data) {
    if (!used.has(f.title)) continue;
    for (const c of clients) {
      const [fam, plat] = c.split('.');
      const s = f.stats?.[fam]?.[plat];
      if (!s) continue;
      const keys = Object.keys(s);
      const lex = [...keys].sort().pop();
      const num = [...keys].sort(numeric.compare).pop();
      if (s[lex][0] !== s[num][0]) {
        notes.push(`${f.title} in ${c}: judged by version ${lex} ("${s[lex]}"); the newest, ${num}, is "${s[num]}"`);
      }
    }
  }
  if (notes.length) {
    console.log('');
    console.log('note: doiuse-email picks the "latest" version by string order; these verdicts depend on it:');
    for (const n of notes) console.log(`  ${n}`);
  }
}

console.log('');
let fail = false;
for (const [pass, what] of [['plain', 'doiuse-email'], ['strict', 'with @media rules linted']]) {
  const a = cand[pass].errors.size;
  const b = base[pass].errors.size;
  if (a < b) {
    console.log(`PASS (${what}): ${cand.label} uses fewer unsupported features than ${base.label} (${a} < ${b})`);
  } else {
    console.log(`FAIL (${what}): ${cand.label} does not use fewer unsupported features than ${base.label} (${a} >= ${b})`);
    fail = true;
  }
}
process.exit(fail ? 1 : 0);
