module.exports = {
  ...require('gts/.prettierrc.json'),
  // gts's 80 columns split most of our typed signatures over many lines.
  printWidth: 100,
};
