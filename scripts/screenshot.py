"""Screenshot a dashboard page in headless Chromium: `python scripts/screenshot.py URL OUT.png [--wait CSS]
[--user NAME --password PW [--purpose TEXT]]`.

Used to look at pages the way users see them (and for the README's images). With --user the script
signs in through the sign-in page first (an account without a second factor), and gives a purpose
for roles that open records.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--wait", default=".leaflet-container", help="CSS selector to wait for")
    parser.add_argument("--size", default="1400,900")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let the page finish drawing")
    parser.add_argument("--user", help="sign in as this account first")
    parser.add_argument("--password", default="")
    parser.add_argument("--purpose", help="case number or reason to give after signing in")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--window-size={args.size}", f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        if args.user:
            from urllib.parse import urlsplit

            from selenium.webdriver.common.keys import Keys

            parts = urlsplit(args.url)
            base = f"{parts.scheme}://{parts.netloc}"
            driver.get(f"{base}/login")
            WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "login-username")))
            driver.find_element(By.ID, "login-username").send_keys(args.user)
            driver.find_element(By.ID, "login-password").send_keys(args.password, Keys.ENTER)
            WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)
            if args.purpose:
                driver.get(f"{base}/purpose")
                WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "purpose-input")))
                driver.find_element(By.ID, "purpose-input").send_keys(args.purpose, Keys.ENTER)
                WebDriverWait(driver, 20).until(lambda d: "/purpose" not in d.current_url)
        driver.get(args.url)
        WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, args.wait)))
        time.sleep(args.settle)
        driver.save_screenshot(args.out)
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                print("console:", entry.get("message"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
