// The static explorer's player: shows the precomputed frame that matches the HTML controls.
// It needs no kernel and no network. It finds its own explorer through
// document.currentScript, so several explorers on one page never clash.
// The data script holds {"images": [frame URL, ...], "frames": {"i|j|k": image index}},
// where i, j, k are the chosen option of each control; a frame URL goes into img.src as it is.
(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector('.lessons-explorer-data').textContent);
  var image = root.querySelector('.lessons-explorer-frame');
  var inputs = Array.prototype.slice.call(root.querySelectorAll('[data-position]'));
  inputs.sort(function (a, b) { return a.dataset.position - b.dataset.position; });

  function chosenOption(input) {
    if (input.type === 'checkbox') { return input.checked ? 1 : 0; }
    if (input.type === 'range') {
      var labels = JSON.parse(input.dataset.labels);
      input.parentElement.querySelector('output').textContent = labels[input.value];
    }
    return input.value;
  }

  function show() {
    var key = inputs.map(chosenOption).join('|');
    image.src = data.images[data.frames[key]];
  }

  inputs.forEach(function (input) {
    input.addEventListener('input', show);
    input.addEventListener('change', show);
  });
})();
