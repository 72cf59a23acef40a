// The price of an order in cents: items times unit price, less a percentage discount.
function price(items, unitCents, discountPercent = 0) {
  if (!Number.isInteger(items) || items < 0) throw new Error("items must be a whole number");
  const gross = items * unitCents;
  return gross - Math.round((gross * discountPercent) / 100);
}

module.exports = { price };
