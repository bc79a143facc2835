"""The demo students of ``make run`` (one is Blaise Pascal, as in the university's guide)."""

from __future__ import annotations

from datetime import date

from ent.directory.importing import Row

DEMO_STUDENTS = [
    Row(
        0, "21000001", "123456789AB", "Pascal", "Blaise", date(2004, 6, 19), "Licence Mathématiques"
    ),
    Row(0, "21000002", "234567890BC", "Germain", "Sophie", date(2005, 4, 1), "Licence Physique"),
    Row(0, "21000003", "345678901CD", "Lovelace", "Ada", date(2003, 12, 10), "Master Informatique"),
    Row(0, "21000004", "4567890123D", "Arago", "François", date(2004, 2, 26), "Licence Géographie"),
    Row(0, "21000005", "567890123EF", "Pascal", "Blaise", date(2005, 8, 3), "Licence Droit"),
]
