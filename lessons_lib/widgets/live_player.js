// The live cells' player (lessons_lib/widgets/live_static.py): a trained model answers the
// reader's own date or drawing in the page, run by onnxruntime-web.
//
// It finds its own cell through document.currentScript, so a page may hold several cells.
// Until the reader first uses a cell it shows the configuration's `initial` reading (worked out
// in Python at build time) and requests nothing. On first use it imports
// <content root>_static/ort/ort.wasm.min.mjs (one thread: GitHub Pages sends no cross-origin
// isolation headers), and opens _static/live/<model>; the runtime and each model are opened
// once per page, whichever cell asks first.
//
// For tests and curious readers, the cell's element says where it is:
//   data-state     idle | loading | ready | error
//   data-request   how many inputs the cell has seen (typing, a stroke, a button)
//   data-answered  the input that the shown answer belongs to (equal: the answer is current)
//   data-runs      how many times the model ran
//   data-answer    the date written, or the digit read
//   lessonsLive    the shown result: {text, answer, probability, cross} or
//                  {pixels, probability, rollout}; plus `refused` when the text was refused
(function () {
  'use strict';
  var root = document.currentScript.parentElement;
  var config = JSON.parse(root.querySelector('.lessons-live-config').textContent);
  var labels = config.labels;
  var SVG = 'http://www.w3.org/2000/svg';

  // --- the shared runtime: one import and one session per model, for the whole page ----------

  function staticUrl(path) {
    var contentRoot = document.documentElement.getAttribute('data-content_root') || './';
    return new URL(contentRoot + '_static/' + path, document.baseURI).href;
  }

  function openModel(file) {
    var shared = window.lessonsLiveRuntime || (window.lessonsLiveRuntime = {sessions: {}});
    if (!shared.ort) {
      var base = staticUrl('ort/');
      shared.ort = import(base + 'ort.wasm.min.mjs').then(function (ort) {
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = base;
        return ort;
      });
    }
    var url = staticUrl('live/' + file);
    if (!shared.sessions[url]) {
      shared.sessions[url] = shared.ort.then(function (ort) {
        return ort.InferenceSession.create(url, {executionProviders: ['wasm']}).then(
          function (session) { return {ort: ort, session: session}; });
      });
    }
    return shared.sessions[url];
  }

  // --- small helpers ----------------------------------------------------------------------

  function fill(template, values) {
    return Object.keys(values).reduce(function (text, name) {
      return text.split('{' + name + '}').join(String(values[name]));
    }, template);
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function svgElement(tag, attributes, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // White (0) to dark blue (1); and black or white text, whichever contrasts more on it.
  function shade(value) {
    var v = Math.max(0, Math.min(1, value));
    var rgb = [255 + (8 - 255) * v, 255 + (48 - 255) * v, 255 + (107 - 255) * v].map(Math.round);
    var linear = rgb.map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
    var ink = (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? '#000' : '#fff';
    return {fill: 'rgb(' + rgb.join(',') + ')', ink: ink};
  }

  function percent(p) {
    return (100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1) + '%';
  }

  var served = location.protocol === 'http:' || location.protocol === 'https:';
  var message = root.querySelector('.lessons-live-message');
  var origin = root.querySelector('.lessons-live-origin');
  function say(text) { message.textContent = text; }
  // What the message line says when nothing is wrong: from disk, why nothing runs.
  function calm() { say(served ? '' : labels.file); }

  // --- the cell's life: inputs come in, the latest one is answered --------------------------
  // request() counts an input; pump() answers the newest input once the model is open, one run
  // at a time, and again if more input came during the run.

  var cell = {request: 0, answered: 0, runs: 0, running: false, timer: null, started: false};
  var kind = root.getAttribute('data-live');
  var model = config.model;
  var compute, show, refusal, current;

  function setState(state) { root.setAttribute('data-state', state); }

  function start() {
    if (cell.started || !served) { return; }
    cell.started = true;
    setState('loading');
    say(labels.loading);
    openModel(model).then(function () {
      setState('ready');
      say('');
      pump();
    }, fail);
  }

  function fail(error) {
    setState('error');
    say(labels.error + ' ' + (error && error.message ? error.message : String(error)));
  }

  function request(delay) {
    cell.request += 1;
    root.setAttribute('data-request', String(cell.request));
    start();
    clearTimeout(cell.timer);
    cell.timer = setTimeout(pump, delay);
  }

  function answered(ticket) {
    cell.answered = ticket;
    root.setAttribute('data-answered', String(ticket));
  }

  function pump() {
    if (cell.running || cell.answered === cell.request) { return; }
    var ticket = cell.request;
    var input = current();
    var refused = refusal(input);
    if (refused) {  // nothing is run
      show(refused);
      answered(ticket);
      return;
    }
    if (root.getAttribute('data-state') !== 'ready') { return; }  // pumped again when ready
    cell.running = true;
    openModel(model).then(function (opened) {
      return compute(opened, input);
    }).then(function (result) {
      cell.runs += 1;
      root.setAttribute('data-runs', String(cell.runs));
      origin.textContent = '';
      show(result);
      answered(ticket);
    }).catch(fail).then(function () {
      cell.running = false;
      if (root.getAttribute('data-state') === 'ready') { pump(); }
    });
  }

  function expose(result) {
    root.lessonsLive = result;
    root.setAttribute('data-answer', result.answer === undefined ? '' : String(result.answer));
  }

  // --- the date cell ------------------------------------------------------------------------

  function dateCell() {
    var box = root.querySelector('.lessons-live-input');
    var answerText = root.querySelector('.lessons-live-answer-text');
    var chars = root.querySelector('.lessons-live-chars');
    var picture = root.querySelector('.lessons-live-svg');
    var characters = Array.from(config.characters);
    var tokenOf = {};
    characters.forEach(function (c, i) { tokenOf[c] = i + 2; });  // 0 pads, 1 begins
    var sourceLength = config.max_source_length;
    var targetLength = config.target_length;

    function named(c) { return c === ' ' ? labels.space : c; }

    current = function () { return box.value; };

    refusal = function (text) {
      var typed = Array.from(text);
      var unknown = typed.filter(function (c, i) {
        return !(c in tokenOf) && typed.indexOf(c) === i;
      });
      if (unknown.length) {
        return {text: text, refused: labels.refused + ' ' + unknown.map(function (c) {
          return '“' + c + '”';
        }).join(' ') + '. ' + labels.allowed + ' ' + characters.map(named).join(' ')};
      }
      if (typed.length > sourceLength) {
        return {text: text, refused: fill(labels.too_long, {max: sourceLength, n: typed.length})};
      }
      if (!typed.length) { return {text: text, refused: labels.empty}; }
      return null;
    };

    compute = function (opened, text) {
      var ids = new BigInt64Array(sourceLength);  // 0: padding
      Array.from(text).forEach(function (c, i) { ids[i] = BigInt(tokenOf[c]); });
      var feeds = {source: new opened.ort.Tensor('int64', ids, [1, sourceLength])};
      return opened.session.run(feeds).then(function (out) {
        var tokens = Array.from(out.answer.data, Number);  // (1, target_length)
        var answer = tokens.map(function (token) {  // one character per step, as read_date
          return token >= 2 ? characters[token - 2] : config.not_a_character;
        }).join('');
        var cross = [];  // (target_length, len(text)): the padding columns left out
        for (var row = 0; row < targetLength; row += 1) {
          var offset = row * sourceLength;
          cross.push(Array.from(out.cross.data.subarray(offset, offset + text.length)));
        }
        return {text: text, answer: answer, probability: Array.from(out.probability.data),
          cross: cross, tokens: tokens};
      });
    };

    show = function (result) {
      expose(result);
      root.setAttribute('data-text', result.text);
      root.setAttribute('data-refused', result.refused || '');
      chars.textContent = '';
      picture.textContent = '';
      if (result.refused) {
        answerText.textContent = '';
        say(result.refused);
        return;
      }
      if (root.getAttribute('data-state') !== 'error') { calm(); }
      answerText.textContent = result.answer;
      var written = Array.from(result.answer);  // one character per step
      result.probability.forEach(function (p, t) {
        var guess = Math.max(0, Math.min(1, (0.97 - p) / 0.6));  // orange where it guesses
        var box = element('span', {
          class: 'lessons-live-char',
          title: labels.probability + ' ' + p.toFixed(4),
          style: 'background:rgba(235,120,20,' + (0.55 * guess).toFixed(3) + ')',
        });
        box.appendChild(element('b', {}, written[t] === ' ' ? '␣' : written[t]));
        box.appendChild(element('small', {}, percent(p)));
        chars.appendChild(box);
      });
      picture.appendChild(heatmap(result.cross, written, Array.from(result.text)));
      scrollable();
    };

    // A long date's heatmap keeps a readable size on a phone and scrolls sideways in its box;
    // then the box takes the focus, so that the keyboard can scroll it too.
    function scrollable() {
      if (picture.scrollWidth > picture.clientWidth + 1) {
        picture.setAttribute('tabindex', '0');
      } else {
        picture.removeAttribute('tabindex');
      }
    }
    window.addEventListener('resize', scrollable);

    function heatmap(cross, written, typed) {
      var cellSize = 16;
      var left = 20;
      var top = 18;
      var width = left + typed.length * cellSize + 2;
      var height = top + cross.length * cellSize + 2;
      var rowLabel = function (t) { return written[t] === ' ' ? '␣' : written[t]; };
      var strongest = cross.map(function (row, t) {
        var best = row.indexOf(Math.max.apply(null, row));
        return rowLabel(t) + ' ← ' + named(typed[best]) + ' (' + percent(row[best]) + ')';
      });
      var svg = svgElement('svg', {
        viewBox: '0 0 ' + width + ' ' + height,
        width: String(Math.round(width * 1.5)),
        height: String(Math.round(height * 1.5)),
        style: 'min-width:' + Math.round(width * 0.8) + 'px',
        role: 'img',
        'aria-label': fill(labels.heatmap_summary, {rows: cross.length, columns: typed.length})
          + ' ' + strongest.join('; ') + '.',
        'font-family': 'monospace',
        'font-size': '11',
      });
      typed.forEach(function (c, s) {
        svg.appendChild(svgElement('text', {
          x: left + s * cellSize + cellSize / 2, y: top - 5, 'text-anchor': 'middle',
          fill: '#1a1a1a', 'aria-hidden': 'true',
        }, c === ' ' ? '␣' : c));
      });
      cross.forEach(function (row, t) {
        svg.appendChild(svgElement('text', {
          x: left - 6, y: top + t * cellSize + cellSize / 2 + 4, 'text-anchor': 'end',
          fill: '#1a1a1a', 'aria-hidden': 'true',
        }, rowLabel(t)));
        row.forEach(function (weight, s) {
          var rect = svgElement('rect', {
            x: left + s * cellSize, y: top + t * cellSize, width: cellSize - 1,
            height: cellSize - 1, fill: shade(weight).fill,
          });
          rect.appendChild(svgElement('title', {},
            labels.written + ' ' + rowLabel(t) + ', ' + labels.typed + ' ' + named(typed[s])
            + ': ' + weight.toFixed(3)));
          svg.appendChild(rect);
        });
      });
      return svg;
    }

    box.addEventListener('focus', start);
    box.addEventListener('input', function () { request(150); });
    box.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') {  // answer now, without waiting for the pause in typing
        event.preventDefault();
        start();
        clearTimeout(cell.timer);
        pump();
      }
    });
    Array.prototype.forEach.call(root.querySelectorAll('[data-text]'), function (button) {
      button.addEventListener('click', function () {
        box.value = button.getAttribute('data-text');
        request(0);
      });
    });
  }

  // --- the digit cell -----------------------------------------------------------------------

  function digitCell() {
    var SIZE = 8;
    var cells = Array.prototype.slice.call(root.querySelectorAll('.lessons-live-cell'));
    var grid = root.querySelector('.lessons-live-grid');
    var bars = root.querySelector('.lessons-live-bar-list');
    var reads = root.querySelector('.lessons-live-reads');
    var picture = root.querySelector('.lessons-live-svg');
    var name = root.querySelector('.lessons-live-digit-name');
    var tests = config.test_digits;
    var pixels = config.initial.pixels.slice();
    var shown = -1;  // the test digit on the grid, or -1 once the reader draws
    var stroke = null;  // {pointer, value} while a pointer paints

    function same(a, b) { return a.every(function (v, i) { return v === b[i]; }); }
    tests.some(function (digit, index) {
      if (same(digit.pixels, pixels)) { shown = index; return true; }
      return false;
    });

    function paintCell(index) {
      var value = pixels[index];
      var grey = Math.round(255 * (1 - value));
      cells[index].style.background = 'rgb(' + grey + ',' + grey + ',' + grey + ')';
      cells[index].setAttribute('aria-pressed', value >= 0.5 ? 'true' : 'false');
    }

    function describe() {
      root.setAttribute('data-digit', String(shown));
      name.textContent = shown < 0 ? labels.drawn : fill(labels.test_digit, {
        index: shown + 1, count: tests.length, label: tests[shown].label,
      });
    }

    function setPixels(values, digit) {
      pixels = values.slice();
      shown = digit;
      cells.forEach(function (_, index) { paintCell(index); });
      describe();
      request(0);
    }

    current = function () { return pixels.slice(); };
    refusal = function () { return null; };

    compute = function (opened, image) {
      var feeds = {image: new opened.ort.Tensor('float32', Float32Array.from(image), [1, 1, SIZE, SIZE])};
      return opened.session.run(feeds).then(function (out) {
        var probability = Array.from(out.probability.data);  // (1, 10)
        return {pixels: image, probability: probability, rollout: Array.from(out.rollout.data),
          answer: probability.indexOf(Math.max.apply(null, probability))};
      });
    };

    show = function (result) {
      var best = result.probability.indexOf(Math.max.apply(null, result.probability));
      result.answer = best;
      expose(result);
      reads.textContent = fill(labels.reads, {digit: best, percent: percent(result.probability[best])});
      bars.textContent = '';
      result.probability.forEach(function (p, k) {
        var row = element('div', {
          role: 'listitem', class: 'lessons-live-bar-row' + (k === best ? ' lessons-live-best' : ''),
        });
        row.appendChild(element('span', {}, String(k)));
        var track = element('span', {class: 'lessons-live-bar-track', 'aria-hidden': 'true'});
        track.appendChild(element('span', {
          class: 'lessons-live-bar', style: 'display:block;width:' + (100 * p).toFixed(2) + '%',
        }));
        row.appendChild(track);
        row.appendChild(element('span', {}, percent(p)));
        bars.appendChild(row);
      });
      picture.textContent = '';
      picture.appendChild(rolloutPicture(result.rollout));
    };

    function rolloutPicture(rollout) {
      var side = 4;
      var size = 30;
      var most = Math.max.apply(null, rollout);
      var top = rollout.indexOf(most);
      var svg = svgElement('svg', {
        viewBox: '0 0 ' + side * size + ' ' + side * size, width: String(side * size * 1.2),
        height: String(side * size * 1.2), role: 'img', 'font-size': '10',
        'aria-label': fill(labels.rollout_summary, {
          row: Math.floor(top / side) + 1, column: (top % side) + 1, percent: percent(most),
        }),
      });
      rollout.forEach(function (share, patch) {
        var x = (patch % side) * size;
        var y = Math.floor(patch / side) * size;
        var colour = shade(most > 0 ? share / most : 0);
        svg.appendChild(svgElement('rect', {x: x, y: y, width: size - 1, height: size - 1, fill: colour.fill}));
        svg.appendChild(svgElement('text', {
          x: x + size / 2, y: y + size / 2 + 3.5, 'text-anchor': 'middle', fill: colour.ink,
          'aria-hidden': 'true',
        }, (100 * share).toFixed(0) + '%'));
      });
      return svg;
    }

    // Pointer: a stroke paints ink, or erases when it starts on an inked pixel. The grid does
    // not scroll under a finger (touch-action: none), so a drag on a phone draws.
    function cellAt(x, y) {
      var hit = document.elementFromPoint(x, y);
      var found = hit && hit.closest ? hit.closest('.lessons-live-cell') : null;
      return found && grid.contains(found) ? found : null;
    }

    function paintStroke(target) {
      var index = Number(target.getAttribute('data-index'));
      if (pixels[index] === stroke.value) { return; }
      pixels[index] = stroke.value;
      paintCell(index);
      shown = -1;
      describe();
      request(0);
    }

    grid.addEventListener('pointerdown', function (event) {
      var target = event.target.closest ? event.target.closest('.lessons-live-cell') : null;
      if (!target || (event.pointerType === 'mouse' && event.button !== 0)) { return; }
      event.preventDefault();
      if (target.hasPointerCapture && target.hasPointerCapture(event.pointerId)) {
        target.releasePointerCapture(event.pointerId);
      }
      start();
      moveFocus(Number(target.getAttribute('data-index')), false);
      stroke = {pointer: event.pointerId, value: pixels[Number(target.getAttribute('data-index'))] >= 0.5 ? 0 : 1};
      paintStroke(target);
    });
    grid.addEventListener('pointermove', function (event) {
      if (!stroke || event.pointerId !== stroke.pointer) { return; }
      var target = cellAt(event.clientX, event.clientY);
      if (target) { paintStroke(target); }
    });
    ['pointerup', 'pointercancel'].forEach(function (type) {
      window.addEventListener(type, function (event) {
        if (stroke && event.pointerId === stroke.pointer) { stroke = null; }
      });
    });

    // Keyboard (and assistive technology): the grid is one tab stop; arrows move, Space or
    // Enter switches a pixel. A click with no pointer behind it (detail 0) is that switch.
    function moveFocus(index, focus) {
      cells.forEach(function (button, i) { button.setAttribute('tabindex', i === index ? '0' : '-1'); });
      if (focus) { cells[index].focus(); }
    }

    grid.addEventListener('click', function (event) {
      var target = event.target.closest ? event.target.closest('.lessons-live-cell') : null;
      if (!target || event.detail !== 0) { return; }
      var index = Number(target.getAttribute('data-index'));
      pixels[index] = pixels[index] >= 0.5 ? 0 : 1;
      paintCell(index);
      shown = -1;
      describe();
      request(0);
    });
    grid.addEventListener('keydown', function (event) {
      var target = event.target.closest ? event.target.closest('.lessons-live-cell') : null;
      if (!target) { return; }
      var index = Number(target.getAttribute('data-index'));
      var row = Math.floor(index / SIZE);
      var column = index % SIZE;
      var moves = {
        ArrowLeft: [row, Math.max(0, column - 1)], ArrowRight: [row, Math.min(SIZE - 1, column + 1)],
        ArrowUp: [Math.max(0, row - 1), column], ArrowDown: [Math.min(SIZE - 1, row + 1), column],
        Home: [row, 0], End: [row, SIZE - 1],
      };
      if (!(event.key in moves)) { return; }
      event.preventDefault();
      moveFocus(moves[event.key][0] * SIZE + moves[event.key][1], true);
    });
    grid.addEventListener('focusin', start);

    root.querySelector('.lessons-live-load').addEventListener('click', function () {
      var next = (shown + 1) % tests.length;
      setPixels(tests[next].pixels, next);
    });
    root.querySelector('.lessons-live-clear').addEventListener('click', function () {
      setPixels(pixels.map(function () { return 0; }), -1);
    });

    cells.forEach(function (_, index) { paintCell(index); });
    describe();
  }

  // --- start: the initial reading, and a word on where it came from -------------------------

  if (kind === 'date') { dateCell(); } else { digitCell(); }
  show(config.initial);
  root.lessonsLive.initial = true;
  root.setAttribute('data-request', '0');
  root.setAttribute('data-answered', '0');
  root.setAttribute('data-runs', '0');
  origin.textContent = labels.initial;
  calm();
})();
