#!/usr/bin/env python3
"""Seconds from starting `almanac send` to the first delivery in the journal.

Run in a newsletter folder whose state database already holds the list:
    ALMANAC_SMTP_URL=smtp://127.0.0.1:PORT ALMANAC_UNSUBSCRIBE_SECRET=x \\
        benches/first_message.py ISSUE [ALMANAC_BINARY]
The send is stopped once the first delivery is journalled.
"""
import os
import sqlite3
import subprocess
import sys
import time

issue = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "almanac"
start = time.time()
proc = subprocess.Popen([binary, "send", issue, "--yes"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
first = None
while time.time() - start < 120 and proc.poll() is None:
    try:
        db = sqlite3.connect("file:state/almanac.db?mode=ro", uri=True, timeout=0.1)
        sent = db.execute("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
        db.close()
        if sent:
            first = time.time() - start
            break
    except sqlite3.Error:
        pass
    time.sleep(0.02)
proc.kill()
_, err = proc.communicate()
if first is None:
    sys.exit(f"no delivery journalled: {err.decode(errors='replace')}")
print(f"first delivery journalled {first:.2f} s after the send started")
