#!/usr/bin/env node
// Compiles an MJML file with mjml's own API and default options (no minify,
// no beautify); validation is strict only so that a broken template fails
// here instead of silently producing something else. Validation does not
// change the output.
//
//   NODE_PATH=target/caniemail/node_modules node compile-mjml.js IN.mjml OUT.html

'use strict';

const fs = require('fs');
const mjml2html = require('mjml');

const [input, output] = process.argv.slice(2);
(async () => {
  const src = fs.readFileSync(input, 'utf8');
  // mjml 5 returns a promise; mjml 4 returns the result directly.
  const res = await mjml2html(src, { validationLevel: 'strict', filePath: input });
  if (res.errors && res.errors.length) {
    for (const e of res.errors) console.error(`${input}: ${e.formattedMessage || e.message}`);
    process.exit(1);
  }
  fs.writeFileSync(output, res.html);
})().catch((e) => {
  console.error(`${input}: ${e.message}`);
  if (e.errors) for (const x of e.errors) console.error(`  ${x.formattedMessage || x.message}`);
  process.exit(1);
});
