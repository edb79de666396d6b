"""The customer's identity journeys, sent the way the module will send them.

``Sender`` follows SPEC section 4 (ids, events, ``$identify``, people
updates) for both ID Merge APIs; ``customer_journeys`` plays the journeys of
the customer conversation (new user sign-up, returning user on a new device,
app re-opened logged in, profile switch, two people on one device) and
returns what a correct Mixpanel must end up with; ``mistakes`` plays the
errors the report must make visible.
"""

import uuid

from emutest import TOKEN, insert_id, now_ms


def device():
    return str(uuid.uuid4())


class Sender:
    """Builds and sends the module's calls for one project."""

    def __init__(self, emu, mode, token=TOKEN):
        self.emu = emu
        self.mode = mode
        self.token = token
        self.clock = now_ms() - 3600 * 1000
        self.bound = {}                 # device -> account, as the cookie tag

    def tick(self):
        self.clock += 1000
        return self.clock

    def device_key(self, device_id):
        """The id a device has in Mixpanel under this ID Merge API."""
        return device_id if self.mode == "original" else "$device:" + device_id

    # -- wire format ----------------------------------------------------------

    def event(self, name, device_id, account=None, profile=None, **props):
        properties = {"token": self.token, "time": self.tick(),
                      "$insert_id": insert_id(), "$device_id": device_id,
                      "mp_lib": "nginx", "$lib_version": "1.0.0",
                      "ip": "203.0.113.7"}
        if account:
            properties["account_id"] = account
        if profile:
            properties["active_profile_id"] = profile
        if self.mode == "original":
            properties["distinct_id"] = account or device_id
        elif account:
            properties["$user_id"] = account
            properties["distinct_id"] = account
        else:
            properties["distinct_id"] = "$device:" + device_id
        properties.update(props)
        return {"event": name, "properties": properties}

    def identify_event(self, account, device_id):
        return {"event": "$identify", "properties": {
            "token": self.token, "time": self.tick(),
            "$insert_id": insert_id(), "distinct_id": account,
            "$identified_id": account, "$anon_id": device_id,
            "$device_id": device_id, "mp_lib": "nginx",
            "ip": "203.0.113.7"}}

    def send(self, events):
        answer = self.emu.import_(events, token=self.token)
        assert answer.status == 200, answer
        return answer

    def people(self, account, operation, value):
        answer = self.emu.engage([{"$token": self.token,
                                   "$distinct_id": account,
                                   "$ip": "203.0.113.7", operation: value}])
        assert answer.json() == {"status": 1, "error": None}, answer

    # -- the module's actions -------------------------------------------------

    def identified(self, account, device_id):
        """Original: $identify once per device and account; bind."""
        events = []
        if self.mode == "original" and self.bound.get(device_id) != account:
            events.append(self.identify_event(account, device_id))
        self.bound[device_id] = account
        return events

    def track(self, device_id, name="API Request", account=None,
              profile=None, from_client=True, **props):
        events = []
        if account and from_client:
            events = self.identified(account, device_id)
        self.send(events + [self.event(name, device_id, account, profile,
                                       **props)])

    def signup(self, device_id, account, profile, name="Sign Up"):
        device_id = self.rotate_if_bound_elsewhere(device_id, account)
        events = self.identified(account, device_id)
        self.send(events + [self.event(name, device_id, account, profile)])
        if name == "Sign Up":
            self.people(account, "$set_once", {"$created": "2026-01-01"})
        self.people(account, "$set", {"account_id": account,
                                      "active_profile_id": profile})
        return device_id

    def login(self, device_id, account, profile):
        return self.signup(device_id, account, profile, name="Log In")

    def logout(self, device_id, account, profile):
        self.send([self.event("Log Out", device_id, account, profile)])
        if self.mode == "simplified":     # mixpanel_logout_reset default on
            return self.rotate(device_id)
        return device_id

    def reset(self, device_id):
        """The "Sign-up" screen: a new person is about to use the device."""
        return self.rotate(device_id) if device_id in self.bound else device_id

    def profile_switch(self, device_id, account, old, new):
        self.send([self.event("Switch Profile", device_id, account, new,
                              previous_profile_id=old)])
        self.people(account, "$set", {"active_profile_id": new})

    def rotate_if_bound_elsewhere(self, device_id, account):
        if self.bound.get(device_id, account) != account:
            return self.rotate(device_id)
        return device_id

    def rotate(self, device_id):
        return device()


def customer_journeys(sender):
    """Plays the journeys; returns {account: set of ids in its cluster}."""
    a1, a2, a3 = "acct-1001", "acct-2002", "acct-3003"
    key = sender.device_key

    # New user sign-up: anonymous browsing, then Sign Up on the same device.
    d1 = device()
    sender.track(d1, "App Open")
    sender.track(d1, "View Plans")
    d1 = sender.signup(d1, a1, "prof-solo")
    sender.track(d1, "API Request", a1, "prof-solo")

    # Returning user on a new device: anonymous, then Log In.
    d2 = device()
    sender.track(d2, "App Open")
    d2 = sender.login(d2, a1, "prof-solo")
    sender.track(d2, "API Request", a1, "prof-solo")

    # App re-opened in a logged-in state (signed up before the module was
    # deployed): the client's device id is identified on the first request.
    d3 = device()
    sender.track(d3, "App Open", a1, "prof-solo")
    sender.track(d3, "API Request", a1, "prof-solo")

    # Profile switch: same account, another in-app profile.
    sender.profile_switch(d2, a1, "prof-solo", "prof-partner")
    sender.track(d2, "API Request", a1, "prof-partner")

    # Two people, one device: the first logs in and out; the second starts
    # on the "Sign-up" screen, which resets the device id.
    d4 = device()
    d4 = sender.login(d4, a2, "prof-a2")
    sender.track(d4, "API Request", a2, "prof-a2")
    d5 = sender.logout(d4, a2, "prof-a2")
    d5 = sender.reset(d5)
    sender.track(d5, "App Open")
    d5 = sender.signup(d5, a3, "prof-a3")
    sender.track(d5, "API Request", a3, "prof-a3")

    return {a1: {a1, key(d1), key(d2), key(d3)},
            a2: {a2, key(d4)},
            a3: {a3, key(d5)}}


def mistakes(sender):
    """Plays identity mistakes; returns the ids involved by name."""
    ids = {"anon_profile_device": device(), "shared_device": device(),
           "lost_device": device()}

    # People properties set on an anonymous id, then the user signs up.
    d6 = ids["anon_profile_device"]
    sender.track(d6, "App Open")
    sender.people(sender.device_key(d6), "$set", {"plan_viewed": "pro"})
    sender.signup(d6, "acct-4004", "prof-4")

    # A second account logs in on a device without a reset.
    d8 = ids["shared_device"]
    sender.login(d8, "acct-6006", "prof-6")
    sender.bound.pop(d8)          # the mistake: the binding was lost
    sender.send(sender.identified("acct-7007", d8) + [sender.event(
        "Log In", d8, "acct-7007", "prof-7")])

    # Account activity under an anonymous id that is never identified.
    sender.send([sender.event("API Request", ids["lost_device"],
                              account_id="acct-8008")])

    # A banned distinct_id.
    answer = sender.emu.import_([{"event": "API Request", "properties": {
        "token": sender.token, "time": sender.tick(),
        "$insert_id": insert_id(), "distinct_id": "undefined"}}],
        token=sender.token)
    assert answer.status == 400, answer

    if sender.mode == "original":
        # An $identify whose $anon_id is not a UUIDv4.
        sender.send([sender.identify_event("acct-9009", "device-9")])
    return ids
