// A lint with no dependencies: every source file parses and has no `console.log`.
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

let problems = 0;
for (const dir of ["src", "test"]) {
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    try {
      new vm.Script(text, { filename: file });
    } catch (e) {
      console.error(`${dir}/${file}: ${e.message}`);
      problems++;
    }
    if (text.includes("console.log")) {
      console.error(`${dir}/${file}: console.log left in`);
      problems++;
    }
  }
}
process.exit(problems ? 1 : 0);
