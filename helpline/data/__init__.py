"""Reference data for the counsellor console, shipped in the package and read at start:
canned answers per language (canned/<code>.json) and the referral directory
(referrals.json). Loaded and checked by helpline/services/directory.py."""
