"""One file per schema version, numbered: 0001, 0002, … (a number tells newer from older)."""
