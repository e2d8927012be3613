// A tap (or Enter) on a figure or on an explorer's frame opens it full size, in a dialog that
// scrolls when the picture is wider than the screen; a tap, Escape or "Close" shuts it.
// Loaded on every page by _ext/lessons_book/static_files.py. Needs nothing from the network.
(function () {
  'use strict';
  var ZOOMABLE = 'article img';
  var dialog = null;

  function build() {
    dialog = document.createElement('dialog');
    dialog.className = 'lessons-zoom';
    dialog.setAttribute('aria-label', 'Picture at full size');
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'lessons-zoom-close';
    close.textContent = 'Close';
    var picture = document.createElement('img');
    picture.className = 'lessons-zoom-image';
    dialog.appendChild(close);
    dialog.appendChild(picture);
    dialog.addEventListener('click', function () { dialog.close(); });
    document.body.appendChild(dialog);
    return dialog;
  }

  function open(img) {
    var box = dialog || build();
    var picture = box.querySelector('img');
    picture.src = img.currentSrc || img.src;
    picture.alt = img.alt;
    box.showModal();
    box.querySelector('button').focus();
  }

  function zoomable(target) {
    var img = target && target.closest ? target.closest(ZOOMABLE) : null;
    return img && !img.closest('.lessons-zoom, a, button') ? img : null;
  }

  document.addEventListener('click', function (event) {
    var img = zoomable(event.target);
    if (img) { open(img); }
  });
  document.addEventListener('keydown', function (event) {
    var img = zoomable(event.target);
    if (img && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      open(img);
    }
  });

  function markZoomable() {
    document.querySelectorAll(ZOOMABLE).forEach(function (img) {
      if (zoomable(img)) {
        img.classList.add('lessons-zoomable');
        img.tabIndex = 0;
        img.title = 'Tap to see full size';
      }
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', markZoomable);
  } else {
    markZoomable();
  }
})();
