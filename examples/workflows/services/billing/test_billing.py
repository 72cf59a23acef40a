import unittest

from billing import vat


class VatTest(unittest.TestCase):
    def test_rounds_half_up(self):
        self.assertEqual(vat(250, 20), 50)
        self.assertEqual(vat(1, 50), 1)


if __name__ == "__main__":
    unittest.main()
