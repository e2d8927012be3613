// Renders TeX to HTML with the pinned KaTeX, for _ext/lessons_book.py (math at build time).
// Reads a JSON array [{"tex": "...", "display": true|false}, ...] on stdin and writes a JSON
// array of the same length: {"html": "..."} or, for TeX that KaTeX rejects, {"error": "..."}.
'use strict';
const katex = require('katex');

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = requests.map(({ tex, display }) => {
    try {
      return {
        html: katex.renderToString(tex, {
          displayMode: display,
          throwOnError: true,
          output: 'htmlAndMathml', // MathML for screen readers, HTML for the eye
          strict: 'ignore',
        }),
      };
    } catch (error) {
      return { error: String(error.message || error) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
