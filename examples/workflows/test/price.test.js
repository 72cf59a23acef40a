const test = require("node:test");
const assert = require("node:assert");
const { price } = require("../src/price");

test("no discount", () => assert.strictEqual(price(3, 250), 750));
test("a percentage off", () => assert.strictEqual(price(4, 250, 10), 900));
test("refuses part of an item", () => assert.throws(() => price(1.5, 100)));
