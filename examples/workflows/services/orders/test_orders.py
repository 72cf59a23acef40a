import unittest

from orders import total


class TotalTest(unittest.TestCase):
    def test_empty_order(self):
        self.assertEqual(total([]), 0)

    def test_lines_add_up(self):
        self.assertEqual(total([(2, 150), (1, 99)]), 399)


if __name__ == "__main__":
    unittest.main()
