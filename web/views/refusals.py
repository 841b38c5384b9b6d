"""What the domain refuses, as an HTTP status and a message beside the right field.

The administration and account handlers run their steps inside ``async with refusals():`` and
answer a :class:`Refusal` by re-rendering the form they came from with its ``errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar.exceptions import NotFoundException

from web.auth import totp
from web.auth.account import ChangeExpired, NoAuthenticator, SessionStale, WrongPassword
from web.auth.admin_actions import ActionRefused
from web.auth.passwords import PasswordPolicyError
from web.auth.throttle import Throttled
from web.auth.two_factor import InvalidPin
from web.auth.users import UnknownUser, UsernameError, UsernameTaken
from web.views.forms import FormInvalid
from web.views.throttling import throttle_message

STEP_UP_NEEDED = "Enter the PIN code from your authenticator app to confirm it is you."
NO_AUTHENTICATOR = "Set up two-factor authentication on your account page before you change anything here."
INVALID_PIN = "Invalid PIN code"
PIN_FORMAT = "Enter the 6-digit code from your authenticator app."
SESSION_CHANGED = "Your account changed in the meantime. Reload the page."
CHANGE_EXPIRED = "This change has expired. Start again from your account page with a PIN code."


class Refusal(Exception):
    def __init__(self, status: int, errors: dict[str, str], headers: dict[str, str] | None = None) -> None:
        super().__init__("refused")
        self.status, self.errors, self.headers = status, errors, headers or {}


@asynccontextmanager
async def refusals() -> AsyncIterator[None]:
    """Turn what the domain refuses into a status and a message beside the right field."""
    try:
        yield
    except FormInvalid as invalid:
        raise Refusal(invalid.status, invalid.errors) from None
    except totp.PinFormatError:
        raise Refusal(422, {"pin": PIN_FORMAT}) from None
    except InvalidPin:
        raise Refusal(401, {"pin": INVALID_PIN}) from None
    except Throttled as throttled:
        headers = {} if throttled.locked else {"retry-after": str(throttled.retry_after)}
        raise Refusal(429, {"_form": throttle_message(throttled)}, headers) from None
    except NoAuthenticator:
        raise Refusal(403, {"_form": NO_AUTHENTICATOR}) from None
    except StepUpNeeded:
        raise Refusal(403, {"pin": STEP_UP_NEEDED}) from None
    except ChangeExpired:
        raise Refusal(403, {"_form": CHANGE_EXPIRED}) from None
    except ActionRefused as refused:
        raise Refusal(refused.status, {"_form": str(refused)}) from None
    except WrongPassword:
        raise Refusal(401, {"current_password": "That is not your current password."}) from None
    except PasswordPolicyError as weak:
        raise Refusal(422, {"password": str(weak)}) from None
    except UsernameTaken as taken:
        raise Refusal(409, {"username": str(taken)}) from None
    except UsernameError as bad:
        raise Refusal(422, {"username": str(bad)}) from None
    except SessionStale:
        raise Refusal(409, {"_form": SESSION_CHANGED}) from None
    except UnknownUser:
        raise NotFoundException() from None


class StepUpNeeded(Exception):
    """An admin change without a recent second factor and without a PIN to check now."""
