"""Order totals for the orders service."""


def total(lines):
    """The sum of quantity times unit price over the order's lines, in cents."""
    return sum(quantity * unit for quantity, unit in lines)
