"""`helpline.client`: async Python clients for both sides of the protocol.

    youth = YouthClient("http://127.0.0.1:8080"); await youth.connect(); await youth.open()
    staff = await StaffClient.signed_in(url, "counsellor1", password)
"""

from helpline.client.connection import ClientError, Transcript
from helpline.client.staff import StaffClient, login
from helpline.client.youth import YouthClient

__all__ = ["ClientError", "StaffClient", "Transcript", "YouthClient", "login"]
