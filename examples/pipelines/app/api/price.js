// Prices in cents, with the media platform's rounding rule: half a cent rounds up.
function withTax(cents, ratePercent) {
  return Math.round(cents * (100 + ratePercent) / 100);
}

module.exports = { withTax };
