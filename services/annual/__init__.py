"""The yearly run: annual dog-tax notices (standing notices with the new year's rates)."""
