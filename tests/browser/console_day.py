#!/usr/bin/env python3
"""A social worker's morning in the console, in a real browser (Debian's
chromium, headless, driven by chromedriver through python3-selenium):
unlock; intake of "Nguyễn Thị Hằng" with the keyboard alone (an inline
error first); find her as "nguyen thi hang"; open her file; refer her to
an organisation, refused for want of consent (said in Vietnamese), record
her consent, refer her, withdraw the consent; accept and complete the
referral on the Referrals page; approve the office's new laptop on the
Devices page (a wrong code refused first); her date of birth typed
dd/mm/yyyy and her forms of exploitation ticked in the case file's edit
form; discard a change set aside (its reason in
Vietnamese); the report's figures (small counts suppressed); referred to the Hà Nội
office, whose own console (a second laptop) accepts the referral and,
after the syncs, opens her file; the
directories (a restricted contact read unlocked, found without diacritics,
masked once locked; the referral's service chosen from the directory); sync her case to the hub from the Sync page;
her narrative edited in the console's edit form (the text there to edit)
while the office's second Lào Cai laptop (its own fieldnode) writes it too,
the conflict resolved in the console from Today, both values side by side;
an intake error at phone width; a slow page
that does not draw over the next (a_late_page_draws_nothing); a register
imported from a Windows-1258 CSV on the Import page (import_register); lock, and her
name is gone from the page; the English switch. Screenshots of every page at
1366x768 and at phone width (390x844) go to SHOTS; at phone width the
Devices page with its approve form, the Referrals page with its buttons,
the search's results, the case file's edit form and an intake error are
taken unlocked, and no page is wider than the window (no horizontal
scrolling).

  console_day.py URL SHOTS        (the passphrase in FIELDSYNC_CONSOLE_PASS,
                                   the new laptop's code in FIELDSYNC_NEW_LAPTOP_CODE,
                                   the second laptop's data directory in
                                   FIELDSYNC_SECOND_LAPTOP, fieldnode in
                                   FIELDSYNC_FIELDNODE)

Run by tests/console_browser_test.cc against a `fieldnode console` it
started; exits non-zero with one line saying what failed."""
import os
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

URL, SHOTS = sys.argv[1], sys.argv[2]
PASS = os.environ["FIELDSYNC_CONSOLE_PASS"]
NEW_LAPTOP_CODE = os.environ["FIELDSYNC_NEW_LAPTOP_CODE"]
SECOND_LAPTOP = os.environ["FIELDSYNC_SECOND_LAPTOP"]
FIELDNODE = os.environ["FIELDSYNC_FIELDNODE"]
HANOI_URL = os.environ["FIELDSYNC_HANOI_URL"]
ORG = "Trung tâm Công tác xã hội tỉnh Lào Cai"
SERVICE = "Nhà tạm lánh Sa Pa"
PAO, PAO_MOBILE = "Đại úy Lò Văn Páo", "0912345678"
os.makedirs(SHOTS, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1366,768", "--lang=vi", "--no-first-run",
          "--disable-features=Translate,PasswordLeakDetection",
          "--user-data-dir=" + tempfile.mkdtemp(prefix="fieldsync-chromium-")):
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 15)
started = time.monotonic()


def text_of(css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def until_text(css, fragment):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), fragment))


def keys(*seq):
    ActionChains(driver).send_keys(*seq).perform()


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def check(ok, what):
    if not ok:
        shot("failure")
        raise AssertionError(what)


def fits(name):
    """At phone width the page is no wider than the window: nothing to scroll
    sideways. Else the failure names the elements past the window's edge."""
    over = driver.execute_script(
        "const w = window.innerWidth;"
        "if (document.documentElement.scrollWidth <= w) return null;"
        "const out = [];"
        "for (const e of document.querySelectorAll('body *')) {"
        "  const r = e.getBoundingClientRect();"
        "  if (r.width > 0 && r.right > w + 0.5) {"
        "    out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +"
        "             (typeof e.className === 'string' && e.className ?"
        "              '.' + e.className.trim().split(/\\s+/).join('.') : '') +"
        "             ' to ' + Math.round(r.right));"
        "  }"
        "}"
        "return document.documentElement.scrollWidth + ' px wide in ' + w + ': ' +"
        "       out.slice(0, 6).join(', ');")
    check(over is None, f"{name}: the page is wider than the phone's window: {over}")


def phone_shot(name, at=None):
    """The page as it is, at phone width (scrolled to `at`, a CSS selector,
    if given), no wider than the window, then back to 1366x768."""
    driver.set_window_size(390, 844)
    time.sleep(0.2)  # the page's layout settles before the picture (not a check)
    if at:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView();", at)
    shot(name)
    fits(name)
    driver.set_window_size(1366, 768)


def second_laptop(*args):
    """`fieldnode ARGS` on the office's second Lào Cai laptop (its own data
    directory, a member of the office); its output."""
    run = subprocess.run(["/usr/bin/setsid", "-w", "/usr/bin/env", "FIELDSYNC_PASSPHRASE=" + PASS,
                          FIELDNODE, *args, "--data-dir", SECOND_LAPTOP],
                         capture_output=True, text=True, timeout=120)
    check(run.returncode == 0,
          f"fieldnode {' '.join(args)} on the second laptop: {run.stderr.strip()}")
    return run.stdout


def sync_in(base):
    """One pass from the Sync page at `base`, waited for to its end (the
    page shows the last pass's outcome until the new one ends)."""
    driver.get(base + "/#/sync")
    wait.until(EC.element_to_be_clickable((By.ID, "sync-now")))

    def finished():
        # The page may be drawn again between finding the element and
        # reading it: read again (a stale element is not an answer).
        for _ in range(50):
            try:
                found = driver.find_elements(By.CSS_SELECTOR, "#sync-last")
                return found[0].get_attribute("data-finished") if found else None
            except StaleElementReferenceException:
                time.sleep(0.1)
        return None
    before = finished()
    for _ in range(50):  # the page may be drawn again under the click
        try:
            wait.until(EC.element_to_be_clickable((By.ID, "sync-now"))).click()
            break
        except StaleElementReferenceException:
            time.sleep(0.1)
    WebDriverWait(driver, 60).until(lambda d: finished() not in (None, before))
    until_text("#sync-last", "Đồng bộ xong")


def edit_value(field):
    """The case file's edit form set to `field`; its value control."""
    Select(driver.find_element(By.ID, "edit-field")).select_by_value(field)
    return driver.find_element(By.ID, "edit-value")


def save_edit(saved):
    driver.find_element(By.ID, "edit-save").click()
    until_text("#message", saved)


def a_conflict_made_in_the_console(base, code):
    """The same field on two Lào Cai laptops: the second laptop takes her
    case at its sync and writes her narrative; this laptop, before it has
    that, writes it too in the console's edit form (the narrative there to
    edit, in a box of several lines); its next sync brings the conflict,
    resolved in the console from Today: both values side by side with who
    wrote them, the case file's badge, the other value kept."""
    ours = "Bị lừa sang biên giới, bị giữ ở Hà Khẩu"
    theirs = "Bị lừa sang biên giới (theo lời mẹ)"
    second_laptop("sync")
    second_laptop("case", "set", code, "case.narrative", theirs)
    second_laptop("sync")
    driver.get(base + "/#/case/" + code)
    until_text("#case-title", code)
    box = edit_value("case.narrative")
    check(box.tag_name == "textarea", "the narrative is edited on one line")
    check(box.get_attribute("value") == "Bị lừa sang biên giới",
          "the narrative is not in the box to edit")
    box.send_keys(Keys.END, ", bị giữ ở Hà Khẩu")  # typed after the text there
    save_edit("Đã lưu Diễn biến")
    until_text("#page", ours)
    sync_in(base)
    driver.find_element(By.ID, "nav-today").click()
    until_text(".cards", "Xung đột chưa giải quyết")
    wait.until(EC.element_to_be_clickable((By.ID, "today-conflicts"))).click()
    until_text("#conflicts", code)
    until_text("#conflicts", "Ghi bởi")
    check("Diễn biến" in text_of("#conflicts"), "the field is not named by the catalogue")
    sides = {text_of("#conflicts .side.current .value"), text_of("#conflicts .side.other .value")}
    check(sides == {ours, theirs}, f"the two values side by side are {sides}")
    shot("conflicts-1366")
    phone_shot("conflicts-open-390")
    kept = text_of("#conflicts .side.other .value")
    driver.find_element(By.LINK_TEXT, code).click()
    until_text("#case-title", "Xung đột: 1")
    shot("case-file-conflict-1366")
    driver.find_element(By.ID, "case-conflicts-badge").click()
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#conflicts button.keep-other"))).click()
    until_text("#message", "Đã giải quyết trường Diễn biến")
    until_text("#conflicts", "Không có xung đột")
    driver.get(base + "/#/case/" + code)
    until_text("#page", kept)
    check(not driver.find_elements(By.ID, "case-conflicts-badge"), "the badge stayed")


def import_register(base):
    """The Import page: a small register as a Vietnamese Excel saves a CSV
    (Windows-1258, no byte-order mark, tones as combining marks). Checked
    as UTF-8 it is refused with a preview as windows-1258 and the encoding
    set so; checked again, its bad row (line 3, a sex that is no value) is
    listed and no import is offered; the column left out in the mapping,
    checked again, nothing refused; imported: 3 cases, their codes shown;
    checked again: nothing new (3 imported before), no import offered."""
    rows = ("STT,Họ và tên,Giới tính,Ngày sinh,Tóm tắt\r\n"
            "1,Phạm Thị Thu,Nữ,12/05/2006,\"Bị đưa sang biên giới, \"\"làm thuê\"\"\"\r\n"
            "2,Lò Văn Sử,không biết,01/01/2005,\r\n"
            "3,Vàng Thị Mỷ,Nữ,,\r\n")
    import unicodedata
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out, cluster, marks = "", "", ""
    for ch in unicodedata.normalize("NFD", rows):
        if not unicodedata.combining(ch):
            out += unicodedata.normalize("NFC", cluster) + marks
            cluster, marks = "", ""
        if ch in tones:
            marks += ch
        else:
            cluster += ch
    out += unicodedata.normalize("NFC", cluster) + marks
    path = os.path.join(tempfile.mkdtemp(prefix="fieldsync-register-"), "so-theo-doi.csv")
    with open(path, "wb") as f:
        f.write(out.encode("cp1258"))

    driver.get(base + "/#/import")
    wait.until(EC.presence_of_element_located((By.ID, "import-form")))
    driver.find_element(By.ID, "import-file").send_keys(path)
    driver.find_element(By.ID, "import-dry").click()
    until_text("#import-not-utf8", "Họ và tên,Giới tính")
    check(Select(driver.find_element(By.ID, "import-encoding")).first_selected_option
          .get_attribute("value") == "windows-1258", "the encoding was not set to windows-1258")
    shot("import-not-utf8-1366")
    driver.find_element(By.ID, "import-dry").click()
    # The refused row's reason in the catalogue's Vietnamese (the library's
    # key and parameters, messages_library.js), the field by its label, the
    # values by their words; not the library's English words.
    until_text("#import-rejected",
               "Giới tính: “không biết” không phải giá trị được nhận; hãy chọn một trong: "
               "Nữ, Nam, Khác, Không rõ")
    check("is not a value" not in text_of("#import-rejected"),
          "the library's English words on the Vietnamese page")
    check([r.get_attribute("data-line") for r in
           driver.find_elements(By.CSS_SELECTOR, "#import-rejected tr[data-line]")] == ["3"],
          "the dry run did not list exactly line 3")
    check(not driver.find_elements(By.ID, "import-go"), "an import offered with a row refused")
    until_text("#import-preview", "Phạm Thị Thu")
    shot("import-dry-run-1366")
    phone_shot("import-dry-run-390", "#import-result")
    phone_shot("import-dry-run-refused-390", "#import-summary")
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-header='Giới tính']")) \
        .select_by_value("-")
    driver.find_element(By.ID, "import-check").click()
    until_text("#import-rejected", "Không dòng nào bị từ chối")
    until_text("#import-go", "Nhập 3 hồ sơ")
    driver.find_element(By.ID, "import-go").click()
    until_text("#message", "Đã nhập 3 hồ sơ")
    until_text("#import-codes", "LC-")
    driver.execute_script("window.scrollTo(0, 0);")
    shot("import-done-1366")
    phone_shot("import-done-390", "#import-summary")
    driver.find_element(By.ID, "import-dry").click()  # the same register again
    until_text("#import-summary", "3 dòng đã nhập trước đây")
    check(not driver.find_elements(By.ID, "import-go"), "an import offered for nothing new")
    # On the English switch, the same refused row's reason in English (the
    # page drawn again: the file chosen again, as Windows-1258).
    driver.find_element(By.ID, "lang").click()
    until_text("#nav-today", "Today")
    wait.until(EC.presence_of_element_located((By.ID, "import-form")))
    driver.find_element(By.ID, "import-file").send_keys(path)
    Select(driver.find_element(By.ID, "import-encoding")).select_by_value("windows-1258")
    driver.find_element(By.ID, "import-dry").click()
    until_text("#import-rejected",
               "Sex: \"không biết\" is not one of its values; choose one of: "
               "Female, Male, Other, Unknown")
    shot("import-dry-run-english-1366")
    driver.find_element(By.ID, "lang").click()
    until_text("#nav-today", "Hôm nay")
    # An imported case is found without diacritics (the search index takes
    # the import's commits).
    driver.get(base + "/#/cases?q=pham%20thi%20thu")
    until_text("#case-results", "Phạm Thị Thu")


def a_late_page_draws_nothing(base):
    """A slow page does not draw over the next: the Today page's answer held
    back a second in the page (its fetch wrapped), the user moves on to the
    Import page meanwhile; when the late answer comes, the Import page stays
    and no Today card is drawn, nor an error said."""
    driver.get(base + "/#/import")
    wait.until(EC.presence_of_element_located((By.ID, "import-form")))
    driver.execute_script(
        "const f = window.fetch;"
        "window.fetch = (u, o) => String(u).startsWith('/api/today')"
        "  ? new Promise(r => setTimeout(r, 1000)).then(() => f(u, o)) : f(u, o);"
        "location.hash = '#/today';")
    time.sleep(0.3)  # the Today page's request under way (not a check)
    driver.execute_script("location.hash = '#/import';")
    wait.until(EC.presence_of_element_located((By.ID, "import-form")))
    time.sleep(1.5)  # past the late answer (not a check)
    check(driver.find_elements(By.ID, "import-form"), "a late page drew over the Import page")
    check(not driver.find_elements(By.CSS_SELECTOR, ".cards"), "the Today page's late answer was drawn")
    check(not driver.find_element(By.ID, "message").is_displayed(), "a late answer said something")
    driver.refresh()  # the page loaded again: its fetch as it was
    until_text("#keys-state", "Đã mở khoá")


try:
    driver.get(URL)  # the one-time token, exchanged for the session (sessionStorage)
    until_text("#keys-state", "Đã khoá")
    check("?token" not in driver.current_url, "the token stayed in the address bar")
    odd = driver.execute_script(
        "const v = Object.keys(MESSAGES.vi), e = Object.keys(MESSAGES.en);"
        "return v.filter(k => !e.includes(k)).concat(e.filter(k => !v.includes(k)));")
    check(not odd, f"keys in one language of the catalogue only: {odd}")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".cards")))
    shot("today-locked-1366")

    # Unlock: the passphrase typed once; the field is empty at once after.
    driver.find_element(By.ID, "passphrase").click()
    keys(PASS, Keys.ENTER)
    until_text("#keys-state", "Đã mở khoá")
    check(driver.find_element(By.ID, "passphrase").get_attribute("value") == "",
          "the passphrase stayed in the page")

    # Intake with the keyboard alone: the nav link, Enter; an empty name
    # refused inline; then every field by Tab.
    driver.find_element(By.ID, "nav-intake").send_keys(Keys.ENTER)
    wait.until(EC.presence_of_element_located((By.ID, "intake-form")))
    check(driver.switch_to.active_element.get_attribute("id") == "full_name",
          "the intake form does not start at the name")
    keys(Keys.ENTER)
    until_text("#full_name-error", "Cần nhập họ và tên")
    shot("intake-error-1366")
    keys("Nguyễn Thị Hằng", Keys.TAB,          # name -> sex (Nữ, the first)
         Keys.TAB, "1999", Keys.TAB,           # year of birth
         "0912 345 678", Keys.TAB,             # phones
         "Bản Phố, Bắc Hà", Keys.TAB,          # address
         Keys.TAB,                             # channel (Đường dây nóng)
         "Bị lừa sang biên giới", Keys.TAB,    # narrative
         Keys.SPACE, Keys.TAB,                 # urgent
         Keys.TAB, Keys.ENTER)                 # (no crime report) -> save
    until_text("#case-title", "Hồ sơ LC-")
    code = text_of("#case-title").split()[2]
    until_text("#page", "Nguyễn Thị Hằng")
    until_text("#page", "Họ và tên")  # the catalogue's label, not the column's name
    check("KHẨN CẤP" in text_of("#case-title"), "the case is not urgent")
    until_text("#message", "Đã mở hồ sơ " + code)
    shot("case-file-1366")

    # Find her without diacritics.
    driver.find_element(By.ID, "nav-cases").click()
    wait.until(EC.presence_of_element_located((By.ID, "q")))
    shot("cases-list-1366")
    driver.find_element(By.ID, "q").send_keys("nguyen thi hang", Keys.ENTER)
    until_text("#case-results", "Nguyễn Thị Hằng")
    until_text("#case-results .pager", "Trang 1/1")  # paged as the list
    shot("cases-search-1366")
    phone_shot("cases-search-390", "#case-results")  # the results, below the header and form
    driver.find_element(By.LINK_TEXT, code).click()
    until_text("#case-title", code)
    until_text("#page", "Bị lừa sang biên giới")

    # Change her case's status: an enum is chosen from a list of its values.
    Select(driver.find_element(By.ID, "edit-field")).select_by_value("case.status")
    Select(driver.find_element(By.ID, "edit-value")).select_by_value("verifying")
    driver.find_element(By.CSS_SELECTOR, "#edit-form button[type=submit]").click()
    until_text("#message", "Đã lưu Trạng thái")
    until_text("#page", "Xác minh")
    shot("case-file-edited-1366")
    # Her date of birth, never set: offered all the same, typed dd/mm/yyyy as
    # everywhere on the pages (a date not so written refused in the page,
    # nothing sent); shown so, and in the box when edited again.
    box = edit_value("person.date_of_birth")
    check(box.get_attribute("placeholder") == "dd/mm/yyyy", "the date's form is not said")
    box.send_keys("1999-05-12")
    driver.find_element(By.ID, "edit-save").click()
    until_text("#edit-value-error", "Ngày sinh (dd/mm/yyyy)")
    box = driver.find_element(By.ID, "edit-value")
    box.clear()
    box.send_keys("12/05/1999")
    save_edit("Đã lưu Ngày sinh")
    until_text("#page", "12/05/1999")
    check(edit_value("person.date_of_birth").get_attribute("value") == "12/05/1999",
          "the date of birth is not in the box to edit")
    # Her forms of exploitation: a box to tick for each value, none typed.
    edit_value("case.exploitation_types")
    boxes = driver.find_elements(By.CSS_SELECTOR, "#edit-value input[type=checkbox]")
    check(len(boxes) == 7, f"{len(boxes)} boxes for the forms of exploitation, not 7")
    check(not any(b.is_selected() for b in boxes), "a form of exploitation ticked already")
    for v in ("labour", "sexual"):
        driver.find_element(By.CSS_SELECTOR, f"#edit-value input[value={v}]").click()
    shot("case-file-edit-set-1366")
    phone_shot("case-file-edit-set-390", "#edit-form")
    save_edit("Đã lưu Hình thức bóc lột")
    edit_value("case.exploitation_types")
    ticked = [b.get_attribute("value") for b in
              driver.find_elements(By.CSS_SELECTOR, "#edit-value input:checked")]
    check(ticked == ["sexual", "labour"], f"the forms of exploitation ticked now: {ticked}")

    # Refer her to an organisation: refused for want of consent, in
    # Vietnamese, beside the form; nothing sent.
    driver.find_element(By.ID, "refer-to-org").send_keys(ORG)
    driver.find_element(By.ID, "refer-reason").send_keys("Cần chỗ ở an toàn")
    driver.find_element(By.ID, "refer-send").click()
    until_text("#refer-consent-error", "nạn nhân chưa đồng ý")
    shot("case-file-referral-refused-1366")
    # Her consent to share with it, recorded; then the referral goes.
    Select(driver.find_element(By.ID, "consent-scope")).select_by_value("share_with_org")
    driver.find_element(By.ID, "consent-org").send_keys(ORG)
    driver.find_element(By.ID, "consent-save").click()
    until_text("#message", "Đã ghi nhận sự đồng ý")
    # This time the service is chosen from the directory: its organisation
    # fills the empty "to" field.
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#refer-service option[data-org]")))
    Select(driver.find_element(By.ID, "refer-service")).select_by_visible_text(
        SERVICE + " — " + ORG)
    check(driver.find_element(By.ID, "refer-to-org").get_attribute("value") == ORG,
          "choosing the service did not name its organisation")
    driver.find_element(By.ID, "refer-reason").send_keys("Cần chỗ ở an toàn")
    driver.find_element(By.ID, "refer-send").click()
    until_text("#message", "Đã chuyển gửi đến " + ORG)
    until_text("#page", SERVICE)  # the referral names the service
    until_text("#page", "Cần chỗ ở an toàn")
    shot("case-file-referred-1366")
    # The consent withdrawn (a confirmation first); the referral stays.
    driver.find_element(By.CSS_SELECTOR, "button.withdraw").click()
    driver.switch_to.alert.accept()
    until_text("#message", "Đã rút lại sự đồng ý")
    check(not driver.find_elements(By.CSS_SELECTOR, "button.withdraw"),
          "a withdrawn consent can still be withdrawn")

    # The Referrals page, from Today's link: the agency's answer recorded.
    driver.find_element(By.ID, "nav-today").click()
    wait.until(EC.element_to_be_clickable((By.ID, "today-referrals"))).click()
    until_text("#referrals-out", code)
    until_text("#referrals-out", "Đã gửi")
    shot("referrals-1366")
    phone_shot("referrals-open-390", "#referrals-out")
    driver.find_element(By.CSS_SELECTOR, "#referrals-out button.accept").click()
    until_text("#message", "Đã nhận chuyển gửi hồ sơ " + code)
    until_text("#referrals-out", "Đã nhận")
    driver.find_element(By.CSS_SELECTOR, "#referrals-out button.complete").click()
    until_text("#message", "Đã hoàn thành chuyển gửi hồ sơ " + code)
    check(not driver.find_elements(By.CSS_SELECTOR, "#referrals-out button"),
          "a completed referral still offers an answer")

    # The office's new laptop: its code shown to compare; a wrong code
    # refused (do not approve); the code the new laptop shows approves it.
    driver.find_element(By.ID, "nav-devices").click()
    wait.until(EC.presence_of_element_located((By.ID, "devices")))
    until_text("#devices", NEW_LAPTOP_CODE)
    until_text("#devices", "Chờ phê duyệt")
    code_box = driver.find_element(By.CSS_SELECTOR, "input.approve-code")
    check(code_box.get_attribute("value") == "", "the code to type is filled in for the officer")
    phone_shot("devices-pending-390", "#devices")
    code_box.send_keys("1111 2222 3333 4444", Keys.ENTER)
    until_text("#devices", "Mã không khớp")
    shot("devices-1366")
    phone_shot("devices-wrong-code-390", "#devices")
    code_box = driver.find_element(By.CSS_SELECTOR, "input.approve-code")
    code_box.clear()
    code_box.send_keys(NEW_LAPTOP_CODE, Keys.ENTER)
    until_text("#message", "Đã phê duyệt")
    check(not driver.find_elements(By.CSS_SELECTOR, "input.approve-code"),
          "the approved laptop still waits")
    shot("devices-approved-1366")

    # Set aside: the change damaged on this laptop's disk, its reason in
    # Vietnamese, the hub's code after it; discarded (a confirmation first).
    driver.find_element(By.ID, "nav-setaside").click()
    until_text("#setaside", "bị hỏng trên ổ đĩa")
    until_text("#setaside", "DAMAGED")
    check(not driver.find_elements(By.CSS_SELECTOR, "#setaside button.keep"),
          "a damaged change offers a keep")
    shot("setaside-1366")
    phone_shot("setaside-open-390")
    driver.find_element(By.CSS_SELECTOR, "#setaside button.discard").click()
    driver.switch_to.alert.accept()
    until_text("#message", "Đã bỏ thay đổi")
    until_text("#setaside", "Không có thay đổi nào bị từ chối")

    # The report: anonymised figures, small counts suppressed by the server
    # ("<5"), drawn as bars; no name on the page.
    driver.find_element(By.ID, "nav-report").click()
    until_text("#report", "Theo trạng thái")
    until_text("#report", "<5")
    until_text("#report-total", "Tổng số hồ sơ")
    check("Hằng" not in text_of("#page") and "Lò Thị" not in text_of("#page"),
          "a name on the report page")
    check(driver.find_elements(By.CSS_SELECTOR, "#report .bar.suppressed"),
          "no count is shown suppressed (a hatched stub, no bar)")
    shot("report-1366")

    # Hà Nội needs a shelter: her consent to be referred for services, then
    # the referral to the Hà Nội office (it goes at the next sync).
    driver.get(URL.split("/?")[0] + "/#/case/" + code)
    until_text("#case-title", code)
    Select(driver.find_element(By.ID, "consent-scope")).select_by_value("services")
    driver.find_element(By.ID, "consent-save").click()
    until_text("#message", "Đã ghi nhận sự đồng ý")
    driver.find_element(By.ID, "refer-to-office").send_keys("HN")
    driver.find_element(By.ID, "refer-reason").send_keys("Cần nhà tạm lánh ở Hà Nội")
    driver.find_element(By.ID, "refer-send").click()
    until_text("#message", "Đã chuyển gửi đến HN")

    # The directories: this office's restricted contact read while unlocked,
    # found without diacritics; the services; the organisations.
    driver.find_element(By.ID, "nav-directory").click()
    until_text("#directory", PAO)
    until_text("#directory", PAO_MOBILE)
    until_text("#directory", "Hạn chế")
    shot("directory-contacts-1366")
    until_text("#directory-count", "2 mục")
    driver.find_element(By.ID, "directory-q").send_keys("dai uy pao", Keys.ENTER)
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#directory-q[value='dai uy pao']")))  # the search's own page
    until_text("#directory-count", "1 mục")
    until_text("#directory", PAO)
    wait.until(EC.element_to_be_clickable((By.ID, "directory-tab-services"))).click()
    until_text("#directory", SERVICE)
    until_text("#directory", "Nhà tạm lánh")
    shot("directory-services-1366")
    wait.until(EC.element_to_be_clickable((By.ID, "directory-tab-organisations"))).click()
    until_text("#directory", "Công an tỉnh Lào Cai")
    shot("directory-organisations-1366")

    # Sync: "Đồng bộ ngay" sends her case to the hub; the page follows the
    # pass (polling) and says how it ended, in the catalogue's words; nothing
    # waits to go after.
    driver.find_element(By.ID, "nav-sync").click()
    wait.until(EC.element_to_be_clickable((By.ID, "sync-now")))
    check(text_of("#sync-commits") != "0", "nothing waits to go before the sync")
    driver.find_element(By.ID, "sync-now").click()
    WebDriverWait(driver, 60).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#sync-last"), "Đồng bộ xong"))
    # Each line in the catalogue's words (messages_sync.js), not the CLI's.
    until_text("#sync-last", "Đã gửi ")
    check("synced: pushed" not in text_of("#sync-last"), "the pass's counts in English")
    until_text("#sync-commits", "0")
    until_text("#sync-daemon", "không chạy")
    shot("sync-1366")
    driver.get(URL.split("/?")[0] + "/#/case/" + code)
    until_text("#page", "Bị lừa sang biên giới")
    a_conflict_made_in_the_console(URL.split("/?")[0], code)

    # Hà Nội's laptop, in its own console (its own address, token and
    # session): unlocked, synced, the referral accepted; Lào Cai's next
    # sync grants the case's key; Hà Nội's next one opens her file.
    hanoi = HANOI_URL.split("/?")[0]
    driver.get(HANOI_URL)
    until_text("#keys-state", "Đã khoá")
    driver.find_element(By.ID, "passphrase").send_keys(PASS, Keys.ENTER)
    until_text("#keys-state", "Đã mở khoá")
    sync_in(hanoi)
    driver.get(hanoi + "/#/referrals")
    until_text("#referrals-in", code)
    shot("hanoi-referrals-1366")
    driver.find_element(By.CSS_SELECTOR, "#referrals-in button.accept").click()
    until_text("#message", "Đã nhận chuyển gửi hồ sơ " + code)
    sync_in(hanoi)
    sync_in(URL.split("/?")[0])  # Lào Cai: the acceptance in, the case's key granted
    sync_in(hanoi)
    driver.get(hanoi + "/#/case/" + code)
    until_text("#case-title", code)
    until_text("#page", "Nguyễn Thị Hằng")
    until_text("#page", "Bị lừa sang biên giới")
    shot("hanoi-case-file-1366")
    phone_shot("hanoi-case-file-390")
    driver.get(URL.split("/?")[0] + "/#/case/" + code)
    until_text("#keys-state", "Đã mở khoá")

    until_text("#case-title", code)  # her file drawn: no page under way draws over the next
    a_late_page_draws_nothing(URL.split("/?")[0])
    import_register(URL.split("/?")[0])
    # The lock below is checked on her case file: back to it from the Import
    # page (the import step once ended on the Import page, and the lock step
    # then waited there for the case file's masked notice: "keys locked").
    driver.get(URL.split("/?")[0] + "/#/case/" + code)
    until_text("#case-title", code)
    until_text("#page", "Nguyễn Thị Hằng")

    # An intake refused at phone width (the name missing), before the lock.
    driver.get(URL.split("/?")[0] + "/#/intake")
    wait.until(EC.presence_of_element_located((By.ID, "intake-form")))
    keys(Keys.ENTER)
    until_text("#full_name-error", "Cần nhập họ và tên")
    phone_shot("intake-error-390")
    driver.get(URL.split("/?")[0] + "/#/case/" + code)
    until_text("#page", "Nguyễn Thị Hằng")

    # Lock: the same page shows no sealed value.
    driver.find_element(By.ID, "lock").click()
    until_text("#keys-state", "Đã khoá")
    until_text("#page", "Các trường bảo mật bị che")
    body = text_of("body")
    check("Hằng" not in body and "biên giới" not in body, "a sealed value shows while locked")
    check("Hằng" not in driver.page_source, "a sealed value is in the locked page's source")
    shot("case-file-locked-1366")
    # Locked, the restricted contact's sealed fields are masked.
    driver.get(URL.split("/?")[0] + "/#/directory?kind=contacts")
    until_text("#directory-masked", "mở khoá")
    until_text("#directory", "•••••• (bảo mật)")
    check(PAO_MOBILE not in driver.page_source and PAO not in driver.page_source,
          "a restricted contact's sealed field shows while locked")
    shot("directory-locked-1366")

    # Phone width: every page.
    driver.set_window_size(390, 844)
    for name, hash_ in (("today", "#/today"), ("cases", "#/cases"), ("intake", "#/intake"),
                        ("case-file-locked", "#/case/" + code), ("sync", "#/sync"),
                        ("referrals", "#/referrals"), ("devices", "#/devices"),
                        ("conflicts", "#/conflicts"), ("setaside", "#/setaside"),
                        ("report", "#/report"), ("directory", "#/directory?kind=contacts"),
                        ("directory-services", "#/directory?kind=services"),
                        ("import", "#/import")):
        driver.get(URL.split("/?")[0] + "/" + hash_)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#page > *")))
        time.sleep(0.2)  # the page's layout settles before the picture (not a check)
        shot(name + "-390")
        fits(name + "-390")

    # The English switch.
    driver.set_window_size(1366, 768)
    driver.get(URL.split("/?")[0] + "/#/today")
    driver.find_element(By.ID, "lang").click()
    until_text("#nav-today", "Today")
    until_text("#keys-state", "Locked")
    shot("today-english-1366")
    print(f"console_day: ok in {time.monotonic() - started:.1f} s, case {code}, "
          f"screenshots in {SHOTS}")
except Exception as e:  # one line, and the picture of the page
    shot("failure")
    print(f"console_day: FAILED: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
    print(f"console_day: at {driver.current_url}; page text: {text_of('body')[:400]!r}",
          file=sys.stderr)
    sys.exit(1)
finally:
    driver.quit()
