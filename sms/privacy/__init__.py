"""Personal data: retention (numbers and texts erased after ``SMS_PERSONAL_DATA_RETENTION_DAYS``)
and erasure on request (``manage.py erase_mobile``). ``selectors`` says where numbers are stored and
finds one; ``services`` erases. docs/operations.md, "Retention and erasure"."""
