import unittest

from orders import total


class TotalTest(unittest.TestCase):
    def test_sums_lines_and_applies_the_discount(self):
        self.assertEqual(total([(2, 500), (1, 250)]), 1250)
        self.assertEqual(total([(1, 1000)], discount_percent=10), 900)


if __name__ == "__main__":
    unittest.main()
