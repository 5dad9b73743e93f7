"""Generate tests/data/redaction_corpus.jsonl deterministically.

Positive items embed realistic, freshly generated sensitive values (valid Luhn card
numbers, IBANs with correct mod-97 checksums, well-formed tokens and JWTs...) in work-like
contexts, with labelled spans. Negative items are ordinary work texts with nothing to
redact. Run: ``python tests/data/make_redaction_corpus.py`` (writes next to itself).
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

SEED = 20240611
#: Names the bench/test pass to the Redactor as the local user and host.
CORPUS_USERNAME = "mkowalski"
CORPUS_HOSTNAME = "build-box-17.corp.example.net"

R = random.Random(SEED)
ALNUM = string.ascii_letters + string.digits
FIRST = ["anna", "ben", "chloe", "david", "emma", "farid", "grace", "hiro", "ines", "jakob",
         "kofi", "lena", "marco", "nadia", "oscar", "priya", "quinn", "rosa", "sven", "tariq"]
LAST = ["smith", "garcia", "nguyen", "muller", "rossi", "kim", "okafor", "dubois", "silva",
        "novak", "jensen", "haddad", "ito", "kowalczyk", "brown", "oconnor", "santos"]
DOMAINS = ["example.com", "corp.example.org", "gmail.com", "outlook.com", "acme.co.uk",
           "uni-example.edu", "mail.example.de", "example.io", "startup.example.ai"]


def rs(chars: str, n: int) -> str:
    return "".join(R.choice(chars) for _ in range(n))


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + rs(string.digits, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- value generators -------------------------------------------------------------------

def email() -> str:
    f, l = R.choice(FIRST), R.choice(LAST)
    local = R.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}_{l}{R.randint(1, 99)}", f"{f}+news",
                      f"{l}.{f}"])
    return f"{local}@{R.choice(DOMAINS)}"


US_AREAS = ["201", "212", "312", "415", "617", "646", "702", "718", "305", "404", "512",
            "206", "303", "503", "614", "713", "919"]


def phone() -> str:
    a, ex, ln = R.choice(US_AREAS), str(R.randint(201, 989)), f"{R.randint(0, 9999):04d}"
    if ex == "555":
        ex = "556"
    fmt = R.randrange(9)
    if fmt == 0:
        return f"({a}) {ex}-{ln}"
    if fmt == 1:
        return f"{a}-{ex}-{ln}"
    if fmt == 2:
        return f"{a}.{ex}.{ln}"
    if fmt == 3:
        return f"+1 {a} {ex} {ln}"
    if fmt == 4:
        return f"+1{a}{ex}{ln}"
    if fmt == 5:
        return f"+44 20 7{R.randint(100, 999)} {R.randint(1000, 9999)}"
    if fmt == 6:
        return f"+49 30 {R.randint(1000000, 99999999)}"
    if fmt == 7:
        return f"+33 1 {R.randint(40, 49)} {R.randint(10, 99)} {R.randint(10, 99)} " \
               f"{R.randint(10, 99)}"
    return f"+44 7{R.randint(400, 999)} {R.randint(100000, 999999)}"


def card() -> str:
    kind = R.randrange(4)
    if kind == 0:
        n = luhn_complete("4" + rs(string.digits, 3), 16)
    elif kind == 1:
        n = luhn_complete(str(R.randint(51, 55)), 16)
    elif kind == 2:
        n = luhn_complete(R.choice(["34", "37"]), 15)
        sep = R.choice([" ", "-", ""])
        return sep.join([n[:4], n[4:10], n[10:]])
    else:
        n = luhn_complete("6011", 16)
    sep = R.choice([" ", "-", ""])
    return sep.join(n[i:i + 4] for i in range(0, 16, 4))


def iban_value() -> str:
    c = R.randrange(5)
    if c == 0:
        v = iban("DE", rs(string.digits, 18))
    elif c == 1:
        v = iban("GB", rs(string.ascii_uppercase, 4) + rs(string.digits, 14))
    elif c == 2:
        v = iban("FR", rs(string.digits, 10) + rs(string.digits, 11) + rs(string.digits, 2))
    elif c == 3:
        v = iban("NL", rs(string.ascii_uppercase, 4) + rs(string.digits, 10))
    else:
        v = iban("ES", rs(string.digits, 20))
    if R.random() < 0.5:
        return " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    return v


def ip() -> str:
    c = R.randrange(4)
    if c == 0:
        return f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    if c == 1:
        return f"192.168.{R.randint(0, 255)}.{R.randint(1, 254)}"
    if c == 2:
        return f"{R.randint(11, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    groups = [f"{R.randint(0, 0xffff):x}" for _ in range(6)]
    return "2001:db8:" + ":".join(groups)


def ssn() -> str:
    area = R.choice([a for a in range(1, 900) if a != 666])
    v = f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"
    return v if R.random() < 0.8 else v.replace("-", " ")


def aws_key() -> str:
    return R.choice(["AKIA", "ASIA"]) + rs(string.ascii_uppercase + "234567", 16)


def aws_secret() -> str:
    return rs(ALNUM + "/+", 38) + rs(ALNUM, 2)


def gh_token() -> str:
    if R.random() < 0.3:
        return "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59)
    return R.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rs(ALNUM, 36)


def slack_token() -> str:
    if R.random() < 0.2:
        return (f"https://hooks.slack.com/services/T{rs(string.ascii_uppercase + string.digits, 8)}"
                f"/B{rs(string.ascii_uppercase + string.digits, 10)}/{rs(ALNUM, 24)}")
    return (f"xox{R.choice('bpa')}-{R.randint(10**10, 10**12)}-{R.randint(10**10, 10**12)}-"
            f"{rs(ALNUM, 24)}")


def jwt() -> str:
    header = b64url(json.dumps({"alg": R.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": str(R.randint(1000, 99999)), "name": R.choice(FIRST),
                                 "iat": R.randint(1600000000, 1800000000)}).encode())
    return f"{header}.{payload}.{b64url(R.randbytes(32))}"


def private_key() -> str:
    kind = R.choice(["RSA ", "OPENSSH ", "EC ", ""])
    lines = [base64.b64encode(R.randbytes(48)).decode() for _ in range(R.randint(2, 5))]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + \
        f"\n-----END {kind}PRIVATE KEY-----"


WORDS = ["tiger", "Summer", "blue", "Coffee", "river", "Falcon", "maple", "Orbit", "delta"]


def password() -> str:
    c = R.randrange(3)
    if c == 0:
        return R.choice(WORDS) + str(R.randint(1, 9999)) + R.choice("!#%&*?")
    if c == 1:
        return rs(ALNUM + "!#%^*", R.randint(10, 20))
    return R.choice(WORDS).lower() + R.choice(WORDS) + str(R.randint(10, 99))


def generic_secret() -> tuple[str, str]:
    """(value, context template with {v})."""
    c = R.randrange(8)
    if c == 0:
        return "sk_live_" + rs(ALNUM, 24), "STRIPE_KEY={v}"
    if c == 1:
        return "AIza" + rs(ALNUM + "_-", 35), "const mapsKey = '{v}';"
    if c == 2:
        return "sk-proj-" + rs(ALNUM + "_-", 48), "export OPENAI_API_KEY={v}"
    if c == 3:
        return "npm_" + rs(ALNUM, 36), "//registry.npmjs.org/:_authToken={v}"
    if c == 4:
        return rs(ALNUM, 32), 'api_key = "{v}"'
    if c == 5:
        return rs(ALNUM + "_-", 40), "Authorization: Bearer {v}"
    if c == 6:
        return rs(ALNUM + "-_", 30), "client_secret: {v}"
    return "glpat-" + rs(ALNUM + "_-", 20), "git clone https://oauth2:{v}@gitlab.com/acme/app.git"


def home_path() -> tuple[str, str]:
    user = R.choice(FIRST) + R.choice(["", str(R.randint(1, 99)), "." + R.choice(LAST)])
    c = R.randrange(3)
    if c == 0:
        return f"/home/{user}", "{v}/projects/api/src/main.py"
    if c == 1:
        return f"/Users/{user}", "{v}/Library/Logs/app.log"
    return f"C:\\Users\\{user}", "{v}\\AppData\\Local\\Temp\\build.log"


# --- contexts ---------------------------------------------------------------------------

CTX = {
    "EMAIL_ADDRESS": ["Please send the report to {v} by Friday", "git config user.email {v}",
                      "cc: {v}", "Contact {v} for access", "{v}", "From: Lee <{v}>",
                      "assign ticket to {v}, thanks"],
    "PHONE_NUMBER": ["call me at {v}", "Phone: {v}", "mobile {v} (after 5pm)", "{v}",
                     "On-call number is {v}", "tel {v} ext 12"],
    "CREDIT_CARD": ["card number {v} exp 04/27", "{v}", "Charged to {v}",
                    "cc={v}&cvv=123", "Visa: {v}"],
    "IBAN_CODE": ["IBAN: {v}", "please transfer to {v} by Monday", "{v}",
                  "Account {v} (BIC DEUTDEFF)"],
    "IP_ADDRESS": ["ssh deploy@{v}", "ping {v}", "server at {v} is down", "{v}",
                   "allow from {v}", "curl http://{v}:8080/health"],
    "US_SSN": ["SSN {v}", "social security number: {v}", "{v}", "ssn={v}"],
    "AWS_ACCESS_KEY": ["export AWS_ACCESS_KEY_ID={v}", "aws_access_key_id = {v}", "{v}",
                       "key: {v}"],
    "GITHUB_TOKEN": ["export GITHUB_TOKEN={v}", "git remote set-url origin https://{v}@github.com/a/b",
                     "{v}", "token: {v}"],
    "SLACK_TOKEN": ["SLACK_BOT_TOKEN={v}", "{v}", "webhook: {v}"],
    "JWT": ["Authorization: Bearer {v}", "{v}", "id_token={v}", "jwt = '{v}'"],
    "PRIVATE_KEY": ["{v}", "cat > key.pem <<EOF\n{v}\nEOF"],
    "PASSWORD": ["password={v}", "passwd: {v}", "--password {v}", "DB_PASSWORD={v}",
                 'export PGPASSWORD="{v}"', "psql postgres://app:{v}@db.internal:5432/app",
                 '{{"user": "svc", "password": "{v}"}}', "  password: {v}",
                 "mysql -u root -p{v} shop", "redis://:{v}@cache.internal:6379/0",
                 "Password: {v}", "admin_password = '{v}'"],
}


def positives() -> list[dict]:
    gens = {
        "EMAIL_ADDRESS": email, "PHONE_NUMBER": phone, "CREDIT_CARD": card,
        "IBAN_CODE": iban_value, "IP_ADDRESS": ip, "US_SSN": ssn, "AWS_ACCESS_KEY": aws_key,
        "GITHUB_TOKEN": gh_token, "SLACK_TOKEN": slack_token, "JWT": jwt,
        "PRIVATE_KEY": private_key, "PASSWORD": password,
    }
    items = []
    for entity, gen in gens.items():
        n = 12 if entity == "PRIVATE_KEY" else 25
        for _ in range(n):
            v = gen()
            tpl = R.choice(CTX[entity])
            items.append(_item(tpl, v, entity))
    for _ in range(10):  # AWS secret keys with their usual context
        items.append(_item(R.choice(["aws_secret_access_key = {v}",
                                     "export AWS_SECRET_ACCESS_KEY={v}"]),
                           aws_secret(), "AWS_ACCESS_KEY"))
    for _ in range(30):
        v, tpl = generic_secret()
        items.append(_item(tpl, v, "SECRET"))
    for _ in range(20):
        v, tpl = home_path()
        items.append(_item(tpl, v, "HOME_PATH"))
    user_ctx = ["ls -l ~{v}", "chown {v}:staff out.txt", "Logged in as {v}", "sudo -u {v} make"]
    host_ctx = ["ssh {v}", "Connected to {v}", "{v}: build finished", "ping -c1 {v}"]
    for i in range(6):
        items.append(_item(user_ctx[i % 4], CORPUS_USERNAME, "USERNAME"))
        host = CORPUS_HOSTNAME if i % 2 else CORPUS_HOSTNAME.split(".")[0]
        items.append(_item(host_ctx[i % 4], host, "HOSTNAME"))
    # two values in one text
    for _ in range(15):
        a, b = email(), phone()
        items.append(_multi("Reach {a} or {b} tomorrow", a, "EMAIL_ADDRESS", b, "PHONE_NUMBER"))
    return items


def _item(tpl: str, v: str, entity: str) -> dict:
    start = tpl.index("{v}")
    text = tpl.replace("{v}", v)
    return {"text": text, "spans": [[start, start + len(v), entity]]}


def _multi(tpl: str, a: str, ea: str, b: str, eb: str) -> dict:
    text = tpl.format(a=a, b=b)
    sa = text.index(a)
    sb = text.index(b, sa + len(a))
    return {"text": text, "spans": [[sa, sa + len(a), ea], [sb, sb + len(b), eb]]}


# --- ordinary work text ------------------------------------------------------------------

def hexs(n: int) -> str:
    return rs("0123456789abcdef", n)


def uuid() -> str:
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def ver() -> str:
    return f"{R.randint(0, 12)}.{R.randint(0, 30)}.{R.randint(0, 40)}"


def date() -> str:
    return f"20{R.randint(19, 26)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"


PROJECTS = ["JIRA", "OPS", "WEB", "DATA", "INFRA", "PAY", "MOB", "SEC"]
FILES = ["src/app/main.py", "lib/utils/strings.ts", "docs/index.md", "Makefile",
         "cmd/server/main.go", "tests/test_api.py", "package.json", "config/settings.yaml",
         "/etc/nginx/nginx.conf", "/var/log/syslog", "/opt/app/bin/run.sh", "./build/out.bin"]
NEG_TEMPLATES = [
    lambda: f"git commit -m 'Fix {R.choice(PROJECTS)}-{R.randint(10, 9999)}: handle empty input'",
    lambda: f"git checkout {hexs(7)}",
    lambda: f"git show {hexs(40)}",
    lambda: f"git rebase -i HEAD~{R.randint(2, 9)}",
    lambda: f"pip install requests=={ver()}",
    lambda: f"npm install react@{ver()} --save",
    lambda: f"docker run -p {R.randint(3000, 9000)}:80 nginx:{ver()}",
    lambda: f"kubectl rollout restart deployment/api-{R.choice(['v1', 'v2', 'canary'])}",
    lambda: f"vim {R.choice(FILES)}",
    lambda: f"grep -rn 'TODO' {R.choice(FILES)} | wc -l",
    lambda: f"mkdir -p build/{R.choice(['debug', 'release'])} && cd build",
    lambda: f"ssh -p 22 deploy@staging.corp.example.com",
    lambda: f"chmod 755 {R.choice(FILES)}",
    lambda: f"tail -n {R.randint(10, 500)} /var/log/app/{R.choice(['error', 'access'])}.log",
    lambda: f"curl -s https://api.example.com/v{R.randint(1, 3)}/items?page={R.randint(1, 40)}",
    lambda: f"https://docs.python.org/3/library/{R.choice(['re', 'json', 'pathlib'])}.html",
    lambda: f"https://github.com/acme/{R.choice(['api', 'web', 'infra'])}/pull/{R.randint(1, 4000)}",
    lambda: f"def {R.choice(['parse', 'load', 'merge'])}_{R.choice(['rows', 'config', 'items'])}(path: str) -> list[dict]:",
    lambda: f"for i in range({R.randint(2, 100)}):",
    lambda: f"return {{'id': {R.randint(1, 10**6)}, 'status': 'ok'}}",
    lambda: f"const total = items.reduce((a, b) => a + b.price, 0);",
    lambda: f"SELECT id, name FROM orders WHERE created_at > '{date()}' LIMIT {R.randint(10, 500)};",
    lambda: f"if not password:\n    raise ValueError('password required')",
    lambda: f"password = getpass.getpass('Password: ')",
    lambda: f"def check_password(user, password):",
    lambda: f"password = request.form['password']",
    lambda: f"The password reset done for the {R.choice(['staging', 'qa'])} team, see wiki",
    lambda: f"Reminder: rotate passwords every {R.randint(60, 120)} days per policy",
    lambda: f"token = auth.get_token()",
    lambda: f"Meeting moved to {date()} at {R.randint(9, 17)}:{R.choice(['00', '15', '30', '45'])}",
    lambda: f"Release {ver()} is scheduled for {date()}",
    lambda: f"Bumped version from {ver()} to {ver()}",
    lambda: f"Order #{R.randint(10000, 999999)} shipped, total ${R.randint(5, 2000)}.{R.randint(0, 99):02d}",
    lambda: f"Invoice INV-{R.randint(2019, 2026)}-{R.randint(1, 9999):04d} is due on {date()}",
    lambda: f"The build took {R.randint(1, 59)}m {R.randint(0, 59)}s and used {R.randint(1, 64)} GB",
    lambda: f"request_id={uuid()} status=200 duration_ms={R.randint(1, 900)}",
    lambda: f"Deployed image sha256:{hexs(64)}",
    lambda: f"CPU at {R.randint(1, 100)}% on {R.randint(2, 64)} cores, load {R.randint(0, 9)}.{R.randint(0, 99):02d}",
    lambda: f"Q{R.randint(1, 4)} revenue grew {R.randint(1, 40)}% year over year",
    lambda: f"Please review {R.choice(PROJECTS)}-{R.randint(10, 9999)} before standup tomorrow",
    lambda: f"Fixed the flaky test in {R.choice(FILES)} (seed {R.randint(0, 10**6)})",
    lambda: f"Let's sync on the roadmap; I moved the {R.choice(['API', 'UI', 'billing'])} items to next sprint.",
    lambda: f"error: cannot find module 'lodash' in {R.choice(FILES)} line {R.randint(1, 400)}",
    lambda: f"Traceback (most recent call last): File \"{R.choice(FILES)}\", line {R.randint(1, 900)}",
    lambda: f"listen {R.randint(1024, 65535)}; server_name app.corp.example.com;",
    lambda: f"timeout={R.randint(1, 120)}s retries={R.randint(0, 9)} backoff=1.5",
    lambda: f"Resolution {R.choice(['1920x1080', '2560x1440', '3840x2160'])} at {R.choice([60, 120, 144])} Hz",
    lambda: f"ISBN 978-{R.randint(0, 9)}-{R.randint(100, 999)}-{R.randint(10000, 99999)}-{R.randint(0, 9)}",
    lambda: f"Room B{R.randint(1, 9)}.{R.randint(100, 400)}, floor {R.randint(1, 12)}",
    lambda: f"ls -la /opt/{R.choice(['app', 'data', 'tools'])}/ | sort -k5 -n",
    lambda: f"python -m pytest tests/ -k '{R.choice(['api', 'parse', 'slow'])}' -x -q",
    lambda: f"export PATH=/usr/local/bin:$PATH",
    lambda: f"export LOG_LEVEL={R.choice(['debug', 'info', 'warning'])}",
    lambda: f"config.max_retries = {R.randint(1, 10)}",
    lambda: f"The quick brown fox jumps over the lazy dog.",
    lambda: f"Thanks! I'll update the spreadsheet with the {R.choice(['March', 'April', 'May'])} numbers.",
    lambda: f"Can you share the slides from {date()}?",
    lambda: f"Temperature {R.randint(-10, 40)}°C, humidity {R.randint(10, 99)}%",
    lambda: f"=SUM(B{R.randint(2, 9)}:B{R.randint(10, 300)})",
    lambda: f"=VLOOKUP(A{R.randint(2, 99)}, Sheet2!A:D, 4, FALSE)",
    lambda: f"{R.randint(1, 28)} {R.choice(['Jan', 'Feb', 'Mar', 'Apr'])} {R.randint(2019, 2026)}",
    lambda: f"HTTP/1.1 {R.choice([200, 301, 404, 500])} in {R.randint(1, 999)} ms",
    lambda: f"color: #{hexs(6)}; margin: {R.randint(0, 32)}px;",
    lambda: f"apt-get install -y libssl-dev={ver()}-1ubuntu{R.randint(1, 9)}",
    lambda: f"SKU {R.choice(['AB', 'XK', 'PT'])}-{R.randint(1000, 9999)}-{R.choice(['BLK', 'WHT'])}",
    lambda: f"Pull request #{R.randint(1, 9999)} merged into main",
]


def negatives(n: int = 330) -> list[dict]:
    out, seen = [], set()
    while len(out) < n:
        text = R.choice(NEG_TEMPLATES)()
        if text in seen:
            continue
        seen.add(text)
        out.append({"text": text, "spans": []})
    return out


def main() -> None:
    items = positives() + negatives()
    path = Path(__file__).with_name("redaction_corpus.jsonl")
    with path.open("w", encoding="utf-8") as f:
        for it in items:
            for s, e, _ in it["spans"]:
                assert 0 <= s < e <= len(it["text"])
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    pos = sum(1 for i in items if i["spans"])
    print(f"wrote {path}: {pos} positive, {len(items) - pos} ordinary")


if __name__ == "__main__":
    main()
