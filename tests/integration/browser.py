"""browser: headless Chromium for the integration tests (python3-selenium).

    import browser                      # first: may re-run under /usr/bin/python3
    with browser.Browser(t) as b:       # t: a pstest.Test; skips (77) without a browser
        b.open(path)                    # a local file, as a file:// URL
        b.js("return psFlame.reset()")  # run a script, get its value
        b.click(element)                # a real WebDriver click
        b.screenshot(png_path)
        b.severe_logs()                 # the console's SEVERE entries

Debian's /usr/bin/chromium, driven by /usr/bin/chromedriver: headless
(--headless=new), --no-sandbox (tests may run as root), --disable-gpu, a
temporary --user-data-dir, a fixed window size, console logs kept.  No
network is used: selenium is told where chromedriver is, so its driver
manager never runs.

Skips (exit 77, through pstest's skip) when selenium, chromium or
chromedriver is missing or the browser cannot start (unless the test has
already counted failures: then it ends with those, through done()).  The driver is always
quit, on the way out of `with` and at exit, and any process still running
with this browser's temporary profile in its command line (a chromium that
outlived chromedriver) is killed by its pid, so no chromium is left behind.

selenium is a Debian package: when the python3 first in PATH (a pyenv one,
say) cannot import it but /usr/bin/python3 can, importing this module
re-runs the script under /usr/bin/python3 with the same arguments.
"""
import atexit
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pstest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SYSTEM_PYTHON = "/usr/bin/python3"
WINDOW = (1400, 1000)

pstest.HELPER_FILES.add("browser.py")


def _reexec_for_selenium():
    if importlib.util.find_spec("selenium") is not None:
        return
    if (os.path.exists(SYSTEM_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and not os.environ.get("PS_BROWSER_REEXEC")):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import selenium"], capture_output=True)
        if probe.returncode == 0:
            os.environ["PS_BROWSER_REEXEC"] = "1"
            sys.stdout.flush()
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)


_reexec_for_selenium()

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


def _pdeathsig():
    """In the child: die with the test (SIGKILL when the parent goes)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def pids_with(text):
    """Pids of the processes (not this one) whose command line has TEXT:
    with a Browser's `profile`, its chromium processes."""
    key = text.encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if key in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


class Browser:
    def __init__(self, test, window=WINDOW):
        self.t = test
        self.driver = None
        self.profile = None
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
        if not HAVE_SELENIUM:
            self._skip("selenium cannot be imported by %s (Debian python3-selenium is for %s)"
                       % (sys.executable, SYSTEM_PYTHON))
        if missing:
            self._skip("no browser: %s missing (Debian chromium, chromium-driver)" % ", ".join(missing))
        self.profile = tempfile.mkdtemp(prefix="perfshim-chromium-")
        atexit.register(self.quit)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                  "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
                  "--user-data-dir=" + self.profile, "--window-size=%d,%d" % window):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        service = Service(executable_path=CHROMEDRIVER, env=env, popen_kw={"preexec_fn": _pdeathsig})
        try:
            self.driver = webdriver.Chrome(service=service, options=opts)
        except WebDriverException as e:
            self.quit()
            self._skip("chromium does not start under chromedriver: %s" % str(e).strip().splitlines()[0])
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(30)

    def _skip(self, why):
        """Skip (77), unless checks made before already failed: a skip
        must not hide them."""
        if self.t.failures:
            print("note: %s" % why, flush=True)
            self.t.done()
        self.t.skip(why)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()
        return False

    # ---- driving ------------------------------------------------------------------
    def open(self, path):
        """Load a local file; returns its file:// URL."""
        url = "file://" + os.path.abspath(path)
        self.driver.get(url)
        return url

    def js(self, script, *args):
        """Run SCRIPT (a function body: `return ...` gives its value)."""
        return self.driver.execute_script(script, *args)

    def wait_js(self, script, timeout=10):
        """Poll SCRIPT until it returns something true; that value, or None."""
        deadline = time.time() + timeout
        while True:
            v = self.js(script)
            if v or time.time() >= deadline:
                return v or None
            time.sleep(0.05)

    def find(self, css):
        """The elements matching the CSS selector CSS."""
        return self.driver.find_elements("css selector", css)

    def click(self, element):
        """A WebDriver click: scroll into view, then a real click at the
        element's centre (it must be what receives it there)."""
        element.click()

    def screenshot(self, path):
        """Save a PNG of the window; returns its bytes."""
        png = self.driver.get_screenshot_as_png()
        with open(path, "wb") as f:
            f.write(png)
        return png

    def logs(self):
        """The browser console entries since the last call."""
        try:
            return self.driver.get_log("browser")
        except WebDriverException:
            return []

    def severe_logs(self):
        return [e for e in self.logs() if e.get("level") == "SEVERE"]

    def alert(self):
        return self.driver.switch_to.alert

    # ---- the end ------------------------------------------------------------------
    def leftovers(self):
        """Pids of processes whose command line names this profile."""
        return pids_with(self.profile) if self.profile else []

    def quit(self):
        """Quit the driver (once); kill what still runs with our profile."""
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:
                pass
            self.driver = None
        if self.profile:
            deadline = time.time() + 5
            while self.leftovers() and time.time() < deadline:
                time.sleep(0.1)
            for pid in self.leftovers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None
