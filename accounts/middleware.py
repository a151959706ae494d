"""Resolves the dashboard's current merchant from the session, checked against the user's memberships."""

from accounts.selectors import membership_list_for_user

SESSION_KEY = "current_merchant_id"


class CurrentMerchantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.merchant = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = list(membership_list_for_user(user=user))
            chosen = request.session.get(SESSION_KEY)
            membership = next((m for m in memberships if m.merchant_id == chosen), None)
            if membership is None and memberships:
                membership = memberships[0]
                request.session[SESSION_KEY] = membership.merchant_id
            request.memberships = memberships
            if membership is not None:
                request.membership = membership
                request.merchant = membership.merchant
        return self.get_response(request)
