"""Demo shoppers made by the project (no dataset rows): customers with made-up names and example.* emails, and a
few months of behaviour over the merchant's catalog, so every customer page, segment and chart has something
to show.

Each customer follows a persona, so RFM and the segments mean something: loyal repeat buyers, one-time
buyers, churned customers (active early, then gone), new customers (the last weeks only), browsers who never
buy, category lovers (most of what they look at is one category), big spenders (few, expensive orders) and
a few who signed up and never came back. A session is a search or two, product views (some through a
recommendation), add-to-carts and sometimes an order (one purchase event per line, sharing the order id,
value = price x quantity); some lines are refunded or reviewed days later. Customers who accept marketing get a
campaign email every two weeks and open or click some. Anonymous sessions (and a few guest orders) carry a
session id only. Consent is mixed: most customers have not opted in to marketing, a few refused profiling.

Everything is decided by a random generator seeded per customer (`seed:index`), so the same command makes
the same data, a larger `--customers` only adds customers, and the events' idempotency keys
(`demo:<external id>:<n>`) make a re-run insert nothing twice."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Merchant
from catalog.models import Product
from profiles.models import Customer, Event

FIRST_NAMES = (
    "Ada Alma Amir Anouk Aria Arlo Bea Bodhi Cato Clara Dara Eli Elio Esme Ezra Freya Greta Hana Idris Ines "
    "Ivo Jonas Juno Kai Lena Levi Lina Luca Mae Mila Nico Noor Oona Otto Pia Rafa Rosa Sami Tara Theo Uma "
    "Vera Wren Yara Zane Zoe"
).split()
LAST_NAMES = (
    "Alder Ashby Birch Brook Calder Carver Dale Ellery Fairley Fenwick Garner Hale Harrow Hollis Ivers "
    "Jarvis Keel Lark Lindqvist Marlow Moreau Nash Oakes Pell Quill Rook Rowan Sorel Stone Thorne Vale Varga "
    "Wilde Winter Yardley Zeller"
).split()
MARKETS = (  # (country, locale, weight)
    ("US", "en-US", 30),
    ("GB", "en-GB", 14),
    ("CA", "en-CA", 8),
    ("AU", "en-AU", 7),
    ("DE", "de-DE", 10),
    ("FR", "fr-FR", 8),
    ("NL", "nl-NL", 6),
    ("SE", "sv-SE", 5),
    ("ES", "es-ES", 6),
    ("IT", "it-IT", 6),
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
SIGNUP_SOURCES = ("checkout", "newsletter", "social", "referral", "in_store")
SEARCHES = {
    "Drinkware": ("insulated bottle", "travel mug", "kids bottle", "enamel cup", "growler", "tumbler"),
    "Outdoor apparel": ("rain jacket", "fleece", "waterproof jacket", "base layer", "hiking pants"),
    "Footwear": ("hiking boots", "trail runners", "waterproof boots", "sandals", "wool socks"),
    "Bags and packs": ("daypack", "backpack 30l", "duffel", "dry bag", "laptop backpack"),
    "Kitchen": ("cast iron", "camp stove", "knife", "coffee grinder", "cutting board"),
    "Home": ("blanket", "candle", "throw", "lantern", "string lights"),
    "Electronics accessories": ("power bank", "headlamp", "charger", "solar panel", "usb cable"),
    "Personal care": ("sunscreen", "shampoo bar", "lip balm", "insect repellent", "hand cream"),
}
GENERIC_SEARCHES = ("gift ideas", "sale", "new arrivals", "waterproof", "birthday gift", "best sellers")
REVIEWS = {
    5: ("Exactly as described, love it.", "Great quality, would buy again.", "Perfect for our trips."),
    4: ("Very good, runs slightly small.", "Solid and well made.", "Nice, shipping took a while."),
    3: ("It's fine for the price.", "Does the job, nothing special."),
    2: ("Colour was not as pictured.", "Broke after a few weeks."),
    1: ("Arrived damaged.", "Not what I expected at all."),
}
RATING_WEIGHTS = (2, 3, 8, 30, 57)  # 1..5 stars


@dataclass(frozen=True)
class Persona:
    name: str
    weight: int
    window: tuple[float, float]  # active part of the period (0 = its start, 1 = now)
    sessions: tuple[int, int]
    cart: float  # chance a session adds to the cart
    buy: float  # chance a session with a cart ends in an order
    focus: float  # chance a viewed product is from a favourite category
    max_orders: int = 99
    marketing: float = 0.4  # chance of marketing consent
    opens: float = 0.3  # chance of opening a campaign email
    expensive: bool = False


PERSONAS = (
    Persona("loyal", 14, (0.0, 1.0), (10, 22), 0.65, 0.6, 0.6, marketing=0.7, opens=0.55),
    Persona("one_time", 17, (0.0, 1.0), (1, 3), 0.6, 0.9, 0.4, max_orders=1, marketing=0.3),
    Persona("churned", 13, (0.0, 0.45), (5, 12), 0.6, 0.5, 0.5, marketing=0.5, opens=0.08),
    Persona("new", 10, (0.82, 1.0), (1, 4), 0.6, 0.6, 0.5, marketing=0.5, opens=0.45),
    Persona("browser", 22, (0.0, 1.0), (2, 9), 0.25, 0.0, 0.4, marketing=0.25, opens=0.2),
    Persona("category_lover", 12, (0.0, 1.0), (6, 14), 0.55, 0.5, 0.92, marketing=0.45, opens=0.4),
    Persona("big_spender", 6, (0.1, 1.0), (3, 8), 0.7, 0.7, 0.5, marketing=0.5, expensive=True),
    Persona("dormant", 6, (0.0, 1.0), (0, 0), 0.0, 0.0, 0.0, marketing=0.2),
)
TIERS = {"loyal": "gold", "big_spender": "gold", "category_lover": "silver", "churned": "silver"}


@dataclass(frozen=True)
class DemoProduct:
    id: int
    sku: str
    price: Decimal
    currency: str
    category: str


class _Shopper:
    """Writes one shopper's (or anonymous session's) events, numbering their idempotency keys."""

    def __init__(self, rng: random.Random, key_prefix: str, now: datetime, customer: str | None):
        self.rng, self.prefix, self.now, self.customer = rng, key_prefix, now, customer
        self.events: list[dict] = []

    def add(self, type_: str, at: datetime, session: str = "", product: DemoProduct | None = None, **fields):
        if at > self.now:
            return
        row = {
            "type": type_,
            "customer": self.customer,
            "session_id": session,
            "product_id": product.id if product else None,
            "product_sku": product.sku if product else "",
            "quantity": 1,
            "value": None,
            "currency": "",
            "query": "",
            "order_id": "",
            "occurred_at": at,
            "source": "web",
            "properties": {},
            **fields,
        }
        row["idempotency_key"] = f"{self.prefix}:{len(self.events)}"
        self.events.append(row)


class DemoWorld:
    def __init__(self, products: list[DemoProduct], *, days: int, seed: int, now: datetime):
        self.products, self.days, self.seed, self.now = products, days, seed, now
        self.start = now - timedelta(days=days)
        self.by_category: dict[str, list[DemoProduct]] = {}
        for product in products:
            self.by_category.setdefault(product.category, []).append(product)
        self.categories = sorted(self.by_category)
        prices = sorted(p.price for p in products)
        self.expensive = [p for p in products if p.price >= prices[len(prices) * 2 // 3]] or products
        self.campaigns = [
            (
                f"newsletter-{n + 1:02d}",
                self.start + timedelta(days=14 * n + 3),
                self.categories[n % len(self.categories)],
            )
            for n in range(days // 14)
        ]

    def _at(self, frac: float) -> datetime:
        return self.start + timedelta(seconds=frac * self.days * 86400)

    def _pick(self, rng: random.Random, favourites: list[str], focus: float, expensive: bool) -> DemoProduct:
        if expensive and rng.random() < 0.6:
            return rng.choice(self.expensive)
        if favourites and rng.random() < focus:
            return rng.choice(self.by_category[rng.choice(favourites)])
        return rng.choice(self.products)

    def _session(self, s: _Shopper, at: datetime, persona: Persona, favourites: list[str], order: str | None):
        """One visit; returns True when it ended in an order."""
        rng = s.rng
        session = f"{rng.getrandbits(64):016x}"
        if rng.random() < 0.4:
            category = rng.choice(favourites or self.categories)
            query = rng.choice(SEARCHES.get(category, GENERIC_SEARCHES) + GENERIC_SEARCHES[:1])
            s.add("search", at, session, query=query)
            at += timedelta(seconds=rng.randint(15, 90))
        viewed = []
        for _ in range(rng.randint(1, 6)):
            product = self._pick(rng, favourites, persona.focus, persona.expensive)
            kind = "recommendation_click" if viewed and rng.random() < 0.1 else "view"
            props = {"placement": "product_page"} if kind == "recommendation_click" else {}
            s.add(kind, at, session, product, properties=props)
            if kind == "recommendation_click":
                s.add("view", at + timedelta(seconds=2), session, product)
            viewed.append(product)
            at += timedelta(seconds=rng.randint(30, 240))
        if rng.random() >= persona.cart:
            return False
        cart = rng.sample(viewed, k=min(len(viewed), rng.choice((1, 1, 1, 2, 3))))
        quantities = [2 if rng.random() < 0.15 else 1 for _ in cart]
        for product, quantity in zip(cart, quantities, strict=True):
            s.add("add_to_cart", at, session, product, quantity=quantity)
            at += timedelta(seconds=rng.randint(20, 120))
        if order is None or rng.random() >= persona.buy:
            return False
        for product, quantity in zip(cart, quantities, strict=True):
            value = product.price * quantity
            s.add(
                "purchase",
                at,
                session,
                product,
                quantity=quantity,
                value=value,
                currency=product.currency,
                order_id=order,
            )
            if s.customer:
                self._after_purchase(s, at, product, quantity, value, order)
        return True

    def _after_purchase(
        self, s: _Shopper, at, product: DemoProduct, quantity: int, value: Decimal, order: str
    ):
        rng = s.rng
        if rng.random() < 0.05:
            when = at + timedelta(days=rng.randint(3, 20))
            s.add(
                "refund",
                when,
                "",
                product,
                quantity=quantity,
                value=value,
                currency=product.currency,
                order_id=order,
            )
        elif rng.random() < 0.14:
            rating = rng.choices(range(1, 6), weights=RATING_WEIGHTS)[0]
            props = {"rating": rating, "text": rng.choice(REVIEWS[rating])}
            s.add("review", at + timedelta(days=rng.randint(4, 25)), "", product, properties=props)

    def _emails(self, s: _Shopper, persona: Persona, signed_up: datetime):
        rng = s.rng
        for slug, sent, category in self.campaigns:
            if sent < signed_up or rng.random() >= persona.opens:
                continue
            opened = sent + timedelta(minutes=rng.randint(5, 60 * 48))
            s.add("email_open", opened, "", source="email", properties={"campaign": slug})
            if rng.random() < 0.35:
                product = rng.choice(self.by_category[category])
                click = opened + timedelta(seconds=rng.randint(5, 300))
                s.add("email_click", click, "", product, source="email", properties={"campaign": slug})

    def customer(self, index: int) -> tuple[dict, list[dict]]:
        """Customer number `index` (0-based): its row (Customer fields) and its events."""
        rng = random.Random(f"{self.seed}:{index}")
        persona = rng.choices(PERSONAS, weights=[p.weight for p in PERSONAS])[0]
        country, locale, _ = rng.choices(MARKETS, weights=[m[2] for m in MARKETS])[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        external_id = f"demo-{index + 1:04d}"
        row = {
            "external_id": external_id,
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{index + 1}@{rng.choice(EMAIL_DOMAINS)}".lower(),
            "country": country,
            "locale": locale,
            "consent_marketing": rng.random() < persona.marketing,
            "consent_profiling": rng.random() >= 0.07,
            "attributes": {
                "signup_source": rng.choice(SIGNUP_SOURCES),
                "loyalty_tier": TIERS.get(persona.name, "bronze"),
            },
        }
        favourites = rng.sample(self.categories, k=min(len(self.categories), rng.choice((1, 1, 2))))
        shopper = _Shopper(rng, f"demo:{external_id}", self.now, external_id)
        low, high = persona.window
        times = sorted(self._at(rng.uniform(low, high)) for _ in range(rng.randint(*persona.sessions)))
        orders = 0
        for number, at in enumerate(times):
            order = f"D{index + 1:04d}-{number + 1:03d}" if orders < persona.max_orders else None
            orders += self._session(shopper, at, persona, favourites, order)
        signed_up = times[0] if times else self._at(rng.uniform(low, high))
        if row["consent_marketing"]:
            self._emails(shopper, persona, signed_up)
        seen = [e["occurred_at"] for e in shopper.events] or [signed_up]
        row["first_seen_at"], row["last_seen_at"] = min(seen), max(seen)
        return row, shopper.events

    def anonymous(self, index: int) -> list[dict]:
        """Anonymous visit number `index`: views and searches, rarely a guest order."""
        rng = random.Random(f"{self.seed}:anon:{index}")
        shopper = _Shopper(rng, f"demo:anon-{index + 1:05d}", self.now, None)
        browsing = Persona("anonymous", 0, (0, 1), (1, 1), 0.2, 0.25, 0.3)
        order = f"G{index + 1:05d}" if rng.random() < 0.2 else None
        self._session(shopper, self._at(rng.random()), browsing, [], order)
        return shopper.events


def demo_products(merchant: Merchant) -> list[DemoProduct]:
    rows = (
        Product.objects.filter(merchant=merchant, is_active=True).select_related("category").order_by("sku")
    )
    return [
        DemoProduct(p.pk, p.sku, p.price, p.currency or "USD", p.category.name if p.category else "Other")
        for p in rows
    ]


def demo_customers_create(
    *, merchant: Merchant, customers: int = 500, days: int = 120, seed: int = 7
) -> dict:
    """Write the demo customers and their events (and about half as many anonymous visits); what exists
    already is left alone. Returns counts of what was added."""
    products = demo_products(merchant)
    if not products:
        raise ValueError("The merchant has no active products; set up the demo catalog first (demo_setup).")
    now = timezone.now().replace(second=0, microsecond=0)
    world = DemoWorld(products, days=days, seed=seed, now=now)
    people = [world.customer(i) for i in range(customers)]
    anonymous = [event for i in range(customers // 2) for event in world.anonymous(i)]
    wanted = [row["external_id"] for row, _ in people]
    with transaction.atomic():
        held = set(
            Customer.objects.filter(merchant=merchant, external_id__in=wanted).values_list(
                "external_id", flat=True
            )
        )
        Customer.objects.bulk_create(
            [Customer(merchant=merchant, **row) for row, _ in people if row["external_id"] not in held],
            batch_size=1000,
        )
        ids = dict(
            Customer.objects.filter(merchant=merchant, external_id__in=wanted).values_list(
                "external_id", "pk"
            )
        )
        demo_events = Event.objects.filter(merchant=merchant, idempotency_key__startswith="demo:")
        before = demo_events.count()
        rows = [event for _, events in people for event in events] + anonymous
        Event.objects.bulk_create(
            [
                Event(
                    merchant=merchant,
                    customer_id=ids.get(e["customer"]),
                    received_at=e["occurred_at"],
                    **{k: v for k, v in e.items() if k != "customer"},
                )
                for e in rows
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        added = demo_events.count() - before
    return {"customers_added": len(wanted) - len(held), "customers": len(wanted), "events_added": added}
