// PurgeCSS's settings for the theme's stylesheet (see stylesheet.py beside this file); the
// stylesheet, the pages and the output folder are given on the command line.
export default {
  safelist: {
    // Bootstrap builds these class names from pieces at run time (`bs-${NAME}-auto`), so
    // they never occur whole in a script: the tooltips' and popovers' placement rules.
    greedy: [/^bs-(tooltip|popover)-/],
  },
};
