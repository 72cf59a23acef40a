"""Order totals for the e-commerce services (the logic a Django view would call)."""


def total(lines, discount_percent=0):
    """Sum of quantity x unit price in cents, less a whole-percent discount."""
    gross = sum(quantity * price for quantity, price in lines)
    return gross - gross * discount_percent // 100
