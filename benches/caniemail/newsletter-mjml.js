#!/usr/bin/env node
// Writes an MJML document of one almanac issue to stdout:
//
//   NODE_PATH=target/caniemail/node_modules node benches/caniemail/newsletter-mjml.js ROOT ISSUE
//
// It reads the same files almanac does (newsletter.toml, the edition's TOML,
// issues/<ISSUE>/issue.toml and guide.md) and lays out the same newsletter
// the way a typical MJML user would: mj-attributes for the theme's fonts and
// colours, an mj-wrapper as the 600px card, one mj-section per block,
// mj-text for copy (styled by an inlined mj-style), mj-column borders for the
// TL;DR and quote boxes, mj-table for the timeline, mj-divider between
// sections and FAQ entries, and a non-inlined mj-style for the phone and
// dark-mode rules. Content HTML inside mj-text (p, h2/h3, ul, strong, em, a,
// the score badge's span) matches almanac's, so what differs between the two
// builds is what each tool puts around the content.
//
// Content rules mirror almanac's renderer (src/render): news sorted by the
// edition's order (score: highest first, ties by newest) and cut to its
// limit; ages "3d ago" / "2w ago" / "1mo ago" from the issue date; guide =
// intro, ## sections, then Timeline (**when** — what) and FAQ (### question);
// the sample recipient (Sample Reader, reader@example.com) as `almanac build`.

'use strict';

const fs = require('fs');
const path = require('path');
const { parse: parseToml } = require('smol-toml');
const { marked } = require('marked');

const [root, issueId] = process.argv.slice(2);
if (!root || !issueId) {
  console.error('usage: newsletter-mjml.js ROOT ISSUE');
  process.exit(2);
}

const SAMPLE_NAME = 'Sample Reader';
const SAMPLE_EMAIL = 'reader@example.com';

const config = parseToml(fs.readFileSync(path.join(root, 'newsletter.toml'), 'utf8'));
const paths = { issues: 'issues', layouts: 'layouts', ...(config.paths || {}) };
const issueDir = path.join(root, paths.issues, issueId);
const issue = parseToml(fs.readFileSync(path.join(issueDir, 'issue.toml'), 'utf8'));
const edition = parseToml(
  fs.readFileSync(path.join(root, paths.layouts, 'editions', `${issue.edition}.toml`), 'utf8'),
);
const t = edition.theme;
const nl = config.newsletter;

// ---- helpers ---------------------------------------------------------------

const esc = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const ymd = (d) => (d instanceof Date ? d.toISOString().slice(0, 10) : String(d).slice(0, 10));
const days = (a, b) => Math.round((Date.parse(ymd(a)) - Date.parse(ymd(b))) / 86400000);
const paragraphs = (s) =>
  String(s)
    .trim()
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
    .filter(Boolean);

function age(published) {
  const d = Math.max(0, days(issue.date, published));
  if (d === 0) return 'today';
  if (d <= 13) return `${d}d ago`;
  if (d <= 29) return `${Math.floor(d / 7)}w ago`;
  if (d <= 364) return `${Math.floor(d / 30)}mo ago`;
  return `${Math.floor(d / 365)}y ago`;
}

function dateLong(d) {
  const dt = new Date(ymd(d) + 'T00:00:00Z');
  const wd = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const mo = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
    'September', 'October', 'November', 'December'];
  return `${wd[dt.getUTCDay()]} ${dt.getUTCDate()} ${mo[dt.getUTCMonth()]} ${dt.getUTCFullYear()}`;
}

// ---- content ---------------------------------------------------------------

const webUrl = `${config.links.archive.replace(/\/?$/, '/')}${issueId}/`;
const unsubscribeUrl = `${config.links.unsubscribe}?t=SAMPLE-TOKEN`;

const newsCfg = edition.news || {};
let news = [...(issue.news || [])];
const byScore = (a, b) => b.score - a.score || ymd(b.published).localeCompare(ymd(a.published));
const byDate = (a, b) => ymd(b.published).localeCompare(ymd(a.published)) || b.score - a.score;
news.sort(newsCfg.order === 'date' ? byDate : byScore);
if (newsCfg.limit) news = news.slice(0, newsCfg.limit);

// guide.md: TOML front matter between +++ lines, then Markdown.
const guideSrc = fs.readFileSync(path.join(issueDir, 'guide.md'), 'utf8');
const fm = /^\+\+\+\r?\n([\s\S]*?)\r?\n\+\+\+\r?\n?/.exec(guideSrc);
if (!fm) throw new Error('guide.md: no +++ front matter');
const meta = parseToml(fm[1]);
const body = guideSrc.slice(fm[0].length);

// Split the body at ## headings into intro + sections, as almanac does.
const tokens = marked.lexer(body);
const intro = [];
const sections = [];
for (const tok of tokens) {
  if (tok.type === 'heading' && tok.depth === 2) sections.push({ heading: tok.text, tokens: [] });
  else if (sections.length) sections[sections.length - 1].tokens.push(tok);
  else intro.push(tok);
}
const special = (name) => sections.find((s) => s.heading.trim().toLowerCase() === name);
const timelineSec = special('timeline');
const faqSec = special('faq');
const plainSections = sections.filter((s) => s !== timelineSec && s !== faqSec);

const md = (toks) => toks.map((x) => x.raw).join('');
const mdHtml = (src) => marked.parse(src).trim();
const inline = (src) => marked.parseInline(src.trim());

// Blocks of a section as MJML: copy runs go into one mj-text; a blockquote
// becomes its own boxed mj-section (a left-bordered column, like the TL;DR).
function blocksMjml(toks) {
  const out = [];
  let run = [];
  const flush = () => {
    if (run.some((x) => x.type !== 'space')) {
      out.push(section(`<mj-text mj-class="copy">\n${mdHtml(md(run))}\n</mj-text>`, { padding: '0 24px' }));
    }
    run = [];
  };
  for (const tok of toks) {
    if (tok.type === 'blockquote') {
      flush();
      const inner = mdHtml(md(tok.tokens));
      out.push(
        boxedSection(
          `<mj-text mj-class="quote">\n${inner}\n</mj-text>`,
          { border: `3px solid ${t.border}`, padding: '4px 0 0 14px' },
        ),
      );
    } else {
      run.push(tok);
    }
  }
  flush();
  return out.join('\n');
}

function timelineRows(sec) {
  const rows = [];
  for (const list of sec.tokens.filter((x) => x.type === 'list')) {
    for (const item of list.items) {
      const m = /^\*\*(.+?)\*\*\s*[—–:-]*\s*([\s\S]*)$/.exec(item.text.trim());
      const when = m ? m[1] : '';
      const what = m ? m[2] : item.text;
      rows.push(
        `<tr><td class="timeline-when" width="96" valign="top">${esc(when)}</td>` +
          `<td class="timeline-what" valign="top">${inline(what)}</td></tr>`,
      );
    }
  }
  return rows.join('\n');
}

function faqItems(sec) {
  const items = [];
  for (const tok of sec.tokens) {
    if (tok.type === 'heading' && tok.depth === 3) items.push({ q: tok.text, answer: [] });
    else if (items.length) items[items.length - 1].answer.push(tok);
  }
  return items;
}

// ---- MJML pieces ----------------------------------------------------------

const attrs = (o) =>
  Object.entries(o)
    .map(([k, v]) => ` ${k}="${esc(v)}"`)
    .join('');
const section = (inner, a = {}) =>
  `<mj-section css-class="surface"${attrs({ padding: '0', ...a })}>\n<mj-column>\n${inner}\n</mj-column>\n</mj-section>`;
const boxedSection = (inner, { border, padding, background }) =>
  `<mj-section css-class="surface" padding="0 24px 14px 24px">\n` +
  `<mj-column${attrs({ 'border-left': border, padding, ...(background ? { 'background-color': background, 'css-class': 'box' } : {}) })}>\n${inner}\n</mj-column>\n</mj-section>`;
const divider = () => section('<mj-divider />', { padding: '16px 0 0 0' });

// ---- the document ----------------------------------------------------------

const font = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";

const head = `<mj-head>
<mj-title>${esc(issue.subject)}</mj-title>
<mj-preview>${esc(issue.preheader)}</mj-preview>
<mj-breakpoint width="620px" />
<mj-attributes>
  <mj-all font-family="${esc(font)}" />
  <mj-text font-size="16px" line-height="1.55" color="${t.text}" padding="0" />
  <mj-section padding="0" />
  <mj-column padding="0" />
  <mj-divider border-color="${t.border}" border-width="1px" padding="0" />
  <mj-table font-size="15px" line-height="1.55" color="${t.text}" padding="0" cellpadding="0" />
  <mj-class name="copy" font-size="16px" />
  <mj-class name="small" font-size="12px" color="${t.muted}" line-height="1.5" />
  <mj-class name="quote" color="${t.muted}" font-style="italic" />
  <mj-class name="tldr" font-size="15px" />
</mj-attributes>
<mj-style inline="inline">
  p { margin: 0 0 14px 0; }
  a { color: ${t.accent}; text-decoration: underline; }
  ul, ol { margin: 0 0 14px 0; padding-left: 22px; }
  li { margin: 0 0 6px 0; }
  .masthead-edition { margin: 0 0 4px 0; font-size: 12px; letter-spacing: 1px; text-transform: uppercase; color: ${t.accent_text}; }
  .masthead-name { margin: 0; font-size: 28px; line-height: 1.2; font-weight: bold; color: ${t.accent_text}; }
  .masthead-tagline { margin: 6px 0 0 0; font-size: 15px; color: ${t.accent_text}; }
  .section-title { margin: 0 0 16px 0; font-size: 21px; line-height: 1.3; color: ${t.text}; }
  .greeting { font-weight: bold; }
  .news-meta { margin: 0 0 2px 0; font-size: 12px; color: ${t.muted}; }
  .score { display: inline-block; padding: 1px 6px; background-color: ${t.accent}; color: ${t.accent_text}; font-weight: bold; border-radius: 3px; }
  .news-title { margin: 0 0 6px 0; font-size: 17px; line-height: 1.35; }
  .news-link { color: ${t.text}; text-decoration: none; }
  .news-summary { font-size: 15px; }
  .kicker { margin: 0 0 6px 0; font-size: 12px; letter-spacing: 1px; text-transform: uppercase; color: ${t.accent}; font-weight: bold; }
  .guide-title { margin: 0 0 6px 0; font-size: 24px; line-height: 1.25; color: ${t.text}; }
  .guide-topic { font-size: 13px; color: ${t.muted}; }
  .tldr-label { margin: 0 0 4px 0; font-size: 12px; font-weight: bold; letter-spacing: 1px; color: ${t.accent}; }
  .subhead { margin: 18px 0 8px 0; font-size: 17px; color: ${t.text}; }
  .guide-section { margin: 22px 0 8px 0; font-size: 19px; line-height: 1.3; color: ${t.text}; }
  .timeline-when { padding: 8px 12px 8px 0; font-size: 13px; font-weight: bold; color: ${t.accent}; border-top: 1px solid ${t.border}; }
  .timeline-what { padding: 8px 0; font-size: 15px; border-top: 1px solid ${t.border}; }
  .faq-q { margin: 0 0 6px 0; font-size: 16px; font-weight: bold; }
  .related { font-size: 13px; color: ${t.muted}; }
  .related-label { font-weight: bold; }
  .footer-link { color: ${t.muted}; }
  .footer-text { margin: 0 0 8px 0; }
  .footer-address { margin: 0; }
</mj-style>
<mj-style>
  @media only screen and (max-width: 620px) {
    .card { border-radius: 0 !important; border-left: 0 !important; border-right: 0 !important; }
    .timeline-when { display: block !important; width: auto !important; padding-bottom: 0 !important; }
    .timeline-what { display: block !important; border-top: 0 !important; }
  }
  @media (prefers-color-scheme: dark) {
    .page, .page > div { background-color: ${t.dark_background} !important; }
    .card > table, .surface > table, .surface td { background-color: ${t.dark_surface} !important; }
    .surface div, .surface p, .surface li, .surface td, .surface h2, .surface h3, .news-link { color: ${t.dark_text} !important; }
    .box > table, .box td { background-color: ${t.dark_background} !important; }
  }
</mj-style>
<mj-raw>
  <meta name="color-scheme" content="light dark">
  <meta name="supported-color-schemes" content="light dark">
</mj-raw>
</mj-head>`;

const topbar = section(
  `<mj-text mj-class="small" align="right"><a class="footer-link" href="${esc(webUrl)}">View in browser</a></mj-text>`,
  { padding: '10px 24px 0 24px' },
);

const masthead = `<mj-section background-color="${t.accent}" padding="18px 24px 20px 24px">
<mj-column>
<mj-text color="${t.accent_text}">
<p class="masthead-edition">${esc(edition.name)} · ${esc(dateLong(issue.date))}</p>
<h1 class="masthead-name">${esc(nl.name)}</h1>
<p class="masthead-tagline">${esc(edition.tagline)}</p>
</mj-text>
</mj-column>
</mj-section>`;

const noteBlock = () =>
  section(
    `<mj-text>\n<p class="greeting">Hi ${esc(SAMPLE_NAME)},</p>\n` +
      (issue.note ? paragraphs(issue.note).map((p) => `<p>${esc(p)}</p>`).join('\n') : '') +
      '\n</mj-text>',
    { padding: '24px 24px 8px 24px' },
  );

const newsBlock = () =>
  [
    section(`<mj-text><h2 class="section-title">${esc(newsCfg.heading || 'News')}</h2></mj-text>`, {
      padding: '24px 24px 0 24px',
    }),
    ...news.map((n) =>
      section(
        `<mj-text>
<p class="news-meta"><span class="score">${n.score}/10</span> ${esc(n.source)} · ${age(n.published)}${n.topic ? ` · ${esc(n.topic)}` : ''}</p>
<h3 class="news-title"><a class="news-link" href="${esc(n.url)}">${esc(n.title)}</a></h3>
${paragraphs(n.summary).map((p) => `<p class="news-summary">${esc(p)}</p>`).join('\n')}
</mj-text>`,
        { padding: '0 24px 10px 24px' },
      ),
    ),
  ].join('\n');

function guideBlock() {
  const parts = [];
  parts.push(
    section(
      `<mj-text>
<p class="kicker">Featured guide · ${esc(meta.kind)} · ${esc(meta.level)}</p>
<h2 class="guide-title">${esc(meta.title)}</h2>
<p class="guide-topic">Topic: ${esc(meta.topic)}</p>
</mj-text>`,
      { padding: '24px 24px 4px 24px' },
    ),
  );
  parts.push(
    boxedSection(
      `<mj-text mj-class="tldr">\n<p class="tldr-label">TL;DR</p>\n${paragraphs(meta.tldr).map((p) => `<p>${esc(p)}</p>`).join('\n')}\n</mj-text>`,
      { border: `4px solid ${t.accent}`, padding: '14px 16px 2px 16px', background: t.background },
    ),
  );
  if ((meta.takeaways || []).length) {
    parts.push(
      section(
        `<mj-text>\n<h3 class="subhead">Key takeaways</h3>\n<ul>\n${meta.takeaways.map((x) => `<li>${esc(x)}</li>`).join('\n')}\n</ul>\n</mj-text>`,
        { padding: '0 24px 0 24px' },
      ),
    );
  }
  parts.push(blocksMjml(intro));
  for (const s of plainSections) {
    parts.push(section(`<mj-text><h3 class="guide-section">${esc(s.heading)}</h3></mj-text>`, { padding: '0 24px' }));
    parts.push(blocksMjml(s.tokens));
  }
  if (timelineSec) {
    parts.push(section(`<mj-text><h3 class="guide-section">Timeline</h3></mj-text>`, { padding: '0 24px' }));
    parts.push(section(`<mj-table>\n${timelineRows(timelineSec)}\n</mj-table>`, { padding: '0 24px 14px 24px' }));
  }
  if (faqSec) {
    parts.push(section(`<mj-text><h3 class="guide-section">FAQ</h3></mj-text>`, { padding: '0 24px' }));
    for (const f of faqItems(faqSec)) {
      parts.push(
        section(
          `<mj-divider padding="0 0 12px 0" />\n<mj-text mj-class="tldr">\n<p class="faq-q">${esc(f.q)}</p>\n${mdHtml(md(f.answer))}\n</mj-text>`,
          { padding: '0 24px' },
        ),
      );
    }
  }
  if ((meta.related || []).length) {
    parts.push(
      section(
        `<mj-text><p class="related"><span class="related-label">Related: </span>${meta.related.map(esc).join(' · ')}</p></mj-text>`,
        { padding: '0 24px 8px 24px' },
      ),
    );
  }
  return parts.join('\n');
}

const footer = section(
  `<mj-text mj-class="small">
${paragraphs(nl.why).map((p) => `<p class="footer-text">${esc(p)}</p>`).join('\n')}
<p class="footer-text">This email was sent to ${esc(SAMPLE_EMAIL)}. <a class="footer-link" href="${esc(unsubscribeUrl)}">Unsubscribe</a> with one click, or <a class="footer-link" href="${esc(webUrl)}">read it in your browser</a>.</p>
<p class="footer-address">${esc(nl.name)} · ${esc(nl.postal_address)}</p>
</mj-text>`,
  { padding: '20px 24px 24px 24px' },
);

const renderers = { note: noteBlock, news: newsBlock, guide: guideBlock };
const body_ = [];
for (const [i, s] of (edition.sections || ['note', 'news', 'guide']).entries()) {
  if (!renderers[s]) throw new Error(`unknown section ${s}`);
  if (i > 0) body_.push(divider());
  body_.push(renderers[s]());
}
body_.push(divider());

const spacer = '<mj-section padding="0"><mj-column><mj-spacer height="24px" /></mj-column></mj-section>';

process.stdout.write(`<mjml lang="${esc(nl.language || 'en')}">
${head}
<mj-body background-color="${t.background}" width="600px" css-class="page">
${spacer}
<mj-wrapper css-class="card" background-color="${t.surface}" border="1px solid ${t.border}" border-radius="8px" padding="0">
${topbar}
${masthead}
${body_.join('\n')}
${footer}
</mj-wrapper>
${spacer}
</mj-body>
</mjml>
`);
