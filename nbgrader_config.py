"""nbgrader configuration of the course, read by every `nbgrader` command run in this folder.

The instructor's side of the workflow (generate, release, collect, autograde, feedback,
export) runs from the repository root; see the book's "For instructors" page
(book/instructors.md). Three environment variables move the per-course state:

  NBGRADER_EXCHANGE   the exchange directory students fetch from and submit to
                      (default: .nbgrader_exchange/ next to this file, git-ignored; on a
                      shared server use a directory every student can reach, e.g.
                      /srv/nbgrader/exchange, and give students the same setting)
  NBGRADER_DB_URL     the gradebook (default: SQLite, gradebook.db next to this file,
                      git-ignored; e.g. postgresql://user@host/lenet for a large course)
  NBGRADER_COURSE_ID  the course id in the exchange (default: lenet-course)

The capstone's hidden test retrains the student's network on CIFAR-10, read from
$DLCOURSE_DATA (default: data/ next to this file, where `make data` puts it).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (traitlets provides get_config when it loads this file)
HERE = Path(__file__).resolve().parent

# --- the course directory: solutions/ is the source, exercises/ what students get
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "lenet-course")
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# submitted/, autograded/ and feedback/ keep nbgrader's default names (all git-ignored).

# --- the gradebook: SQLite by default (sqlite:///<root>/gradebook.db), any SQLAlchemy URL
if os.environ.get("NBGRADER_DB_URL"):
    c.CourseDirectory.db_url = os.environ["NBGRADER_DB_URL"]

# --- the exchange (release_assignment creates it when missing)
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", str(HERE / ".nbgrader_exchange"))
# ... with permissions students cannot abuse: root 0755 (nbgrader's is 0777), inbound sticky,
# and a submission owned by another student than the one it names is not collected.
try:
    from dlcourse.grading.exchange import OwnerCheckedCollect, SafeReleaseAssignment
    c.ExchangeFactory.release_assignment = SafeReleaseAssignment
    c.ExchangeFactory.collect = OwnerCheckedCollect
except ImportError:  # without dlcourse: nbgrader's own
    pass

# --- executing notebooks (autograde, validate)
# A cold `import torch` can take half a minute on a busy machine, and the capstone's
# hidden test retrains the network, so the 30 s per cell nbgrader allows is far too short.
c.ExecutePreprocessor.timeout = 600  # seconds per cell
c.ExecutePreprocessor.startup_timeout = 180  # seconds for the kernel to start
c.Execute.timeout = 600  # nbgrader's own Execute preprocessor (a subclass) too
c.Execute.startup_timeout = 180

# --- grading
# A student who deleted a test cell gets it back (and fails it) instead of skipping it.
c.OverwriteCells.add_missing_cells = True

# --- feedback: never the hidden tests, never a student's HTML (book/instructors.md, step 7)
try:
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from dlcourse.grading.feedback import FeedbackPreprocessor
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, FeedbackPreprocessor]
except ImportError:  # without dlcourse: at least strip the hidden tests
    from nbgrader.preprocessors import ClearHiddenTests
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]

# The kernels that autograde inherit this process's environment: point them at the data.
os.environ.setdefault("DLCOURSE_DATA", str(HERE / "data"))

# --- released notebooks start with a Colab badge and the cell that installs the helper
# package (Colab, a fresh Jupyter), both from _config.yml's repository (dlcourse/launch.py)
import sys  # noqa: E402

sys.path.insert(0, str(HERE))  # this checkout's dlcourse, whatever is installed
from nbgrader.converters import GenerateAssignment  # noqa: E402

from dlcourse.launch import AddInstallCell  # noqa: E402

c.GenerateAssignment.preprocessors = [
    *GenerateAssignment.class_traits()["preprocessors"].default(), AddInstallCell]
