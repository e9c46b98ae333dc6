from . import stripe_demo
