import json
import urllib.error
import urllib.parse
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from bnpl_admin.webhooks.models import Merchant
from bnpl_admin.webhooks.services import merchant_secret
from bnpl_admin.webhooks.signing import signed_request


class Command(BaseCommand):
    help = "Sign a refund-status webhook with a merchant's secret and POST it, as the merchant would."

    def add_arguments(self, parser):
        parser.add_argument("merchant", help="merchant code (X-Merchant-Id)")
        parser.add_argument("refund_id", help="the refund's UUID or transaction id")
        parser.add_argument("status", help="approved | rejected | processing | failed")
        parser.add_argument("--merchant-reference", default="")
        parser.add_argument("--webhook-id", help="default: a new random id (reuse one to see the duplicate answer)")
        parser.add_argument("--url", default="http://127.0.0.1:8000/webhook/refund-status/")
        parser.add_argument("--secret", help="sign with this secret instead of the merchant's stored one")

    def handle(self, *args, merchant, refund_id, status, merchant_reference, webhook_id, url, secret, **options):
        address = urllib.parse.urlsplit(url)
        if address.scheme not in ("http", "https") or not address.netloc:
            raise CommandError(f"--url must be an http:// or https:// address, not {url!r}")
        if secret is None:
            found = Merchant.objects.filter(code=merchant).first()
            if found is None:
                raise CommandError(f"No merchant {merchant!r} in this database; pass --secret to sign anyway")
            secret = merchant_secret(found)
        payload = {"refund_id": refund_id, "status": status}
        if merchant_reference:
            payload["merchant_reference"] = merchant_reference
        body, headers = signed_request(secret=secret, merchant_code=merchant, payload=payload, webhook_id=webhook_id)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status_code, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status_code, answer = exc.code, exc.read().decode()
        except urllib.error.URLError as exc:
            raise CommandError(f"Could not reach {url}: {exc.reason}") from None
        self.stdout.write(f"POST {url} webhook-id={headers['webhook-id']}")
        self.stdout.write(f"HTTP {status_code}")
        try:
            self.stdout.write(json.dumps(json.loads(answer), indent=2))
        except ValueError:
            self.stdout.write(answer)
