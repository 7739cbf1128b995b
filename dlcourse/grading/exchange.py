"""The exchange with permissions students cannot abuse (for ``nbgrader_config.py``).

nbgrader makes the exchange's root world-writable (0777, reset at every release), so any
student can rename or replace a course's folder in it; its ``inbound`` (0733) lets a student
delete a classmate's submission whose name they know; and ``collect`` only *warns* about a
submission owned by someone else than the student it names. Here:

- :class:`SafeReleaseAssignment`: the root is 0755 (only the instructor creates course
  folders), ``inbound`` gets the sticky bit (students write their own files only, cannot
  list, rename or delete anyone's), ``outbound`` stays read-only for students;
- :class:`OwnerCheckedCollect`: a submission owned by another *student* than the one it
  claims to be is not collected (that student's newest genuine submission is); files owned
  by the instructor (a course run on one account, as in the tests) are collected as before.

The grading sandbox never sees the exchange at all (see :mod:`.sandbox`).
"""

from __future__ import annotations

import glob
import os
import pwd
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment


class SafeReleaseAssignment(ExchangeReleaseAssignment):
    def ensure_root(self):
        mode = 0o755 | (stat.S_ISGID | 0o070 if self.coursedir.groupshared else 0)
        if not os.path.exists(self.root):
            self.log.warning(f"Creating exchange directory: {self.root}")
            os.makedirs(self.root)
            os.chmod(self.root, mode)
        elif not self.coursedir.groupshared and os.stat(self.root).st_mode & 0o022:
            self.log.warning(f"Exchange directory {self.root} was writable by others: now {oct(mode)}")
            os.chmod(self.root, mode)

    def init_dest(self):
        super().init_dest()
        os.chmod(self.inbound_path, os.stat(self.inbound_path).st_mode | stat.S_ISVTX)


class OwnerCheckedCollect(ExchangeCollect):
    def _genuine(self, record: dict) -> bool:
        """Owned by the student it names, or by the instructor (one shared account)."""
        uid = os.stat(os.path.join(self.inbound_path, record["filename"])).st_uid
        try:
            owner = pwd.getpwuid(uid).pw_name
        except KeyError:
            owner = None
        return owner == record["username"] or uid == os.getuid()

    def init_src(self):
        super().init_src()
        if not self.check_owner:
            return
        kept = []
        for record in self.src_records:
            if self._genuine(record):
                kept.append(record)
                continue
            self.log.error(f"NOT collected: {record['filename']} claims to be by {record['username']} "
                           "but is owned by another student")
            pattern = os.path.join(self.inbound_path, f"{record['username']}+{self.coursedir.assignment_id}+*")
            others = [self._path_to_record(f) for f in glob.glob(pattern)]
            genuine = self._sort_by_timestamp([r for r in others if self._genuine(r)])
            kept += genuine[:1]
        self.src_records = kept
