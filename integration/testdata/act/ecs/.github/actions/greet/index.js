// Writes an output and an environment variable through the runner's file
// commands, as @actions/core does.
const fs = require('fs');
const who = process.env.INPUT_WHO;
fs.appendFileSync(process.env.GITHUB_OUTPUT, `greeting=hello ${who}\n`);
fs.appendFileSync(process.env.GITHUB_ENV, 'FROM_ACTION=set-by-js-action\n');
const major = Number(process.versions.node.split('.')[0]);
console.log(`js action for ${who} on node>=18: ${major >= 18}`);
