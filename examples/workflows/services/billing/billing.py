"""Invoices for the billing service."""


def vat(cents, rate_percent):
    """The VAT on an amount, rounded half up to the cent."""
    return (cents * rate_percent + 50) // 100
