from django import forms
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import AuditLog, Invitation, Membership, Merchant, MerchantAPIKey
from accounts.services import Actor, api_key_create, invitation_revoke, validate_scopes


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role", "merchant"]
    search_fields = ["user__username", "user__email", "merchant__name", "merchant__slug"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "merchant"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are sent from Settings › Members (the clear token exists only in the email);
    staff can withdraw them here."""

    list_display = [
        "email",
        "merchant",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role", "merchant"]
    search_fields = ["email", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant", "invited_by"]
    exclude = ["token_hash"]
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw the selected invitations")
    def revoke_selected(self, request, queryset):
        actor = Actor.for_user(request.user)
        revoked = sum(invitation_revoke(invitation=invitation, actor=actor) for invitation in queryset)
        self.message_user(request, f"Withdrew {revoked} invitation(s).", messages.SUCCESS)


# The library's merchant-less key model is not used by Storyfront; keep it out of the admin.
admin.site.unregister(APIKey)


class MerchantAPIKeyForm(forms.ModelForm):
    class Meta:
        model = MerchantAPIKey
        fields = ["name", "merchant", "scopes", "expiry_date", "revoked"]

    def clean_scopes(self):
        scopes = self.cleaned_data["scopes"]
        if isinstance(scopes, str):
            scopes = scopes.split(",")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise forms.ValidationError('Give a JSON list such as ["read", "write"].')
        try:
            return validate_scopes(scopes)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(MerchantAPIKey)
class MerchantAPIKeyAdmin(APIKeyModelAdmin):
    form = MerchantAPIKeyForm
    list_display = [*APIKeyModelAdmin.list_display, "merchant", "scopes", "last_used_at"]
    list_filter = [*APIKeyModelAdmin.list_filter, "merchant"]
    search_fields = [*APIKeyModelAdmin.search_fields, "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "last_used_at", "created_by"]
        if obj is not None:
            readonly += ["merchant", "scopes"]
        return readonly

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # Created through the service so the creation is audited like every other key.
        key_obj, key = api_key_create(
            merchant=obj.merchant,
            name=obj.name,
            scopes=obj.scopes,
            actor=Actor.for_user(request.user),
            expiry_date=obj.expiry_date,
        )
        obj.id = key_obj.id
        self.message_user(
            request,
            f"The API key for {obj.merchant} is: {key} — copy it now; it is stored hashed and won't be shown again.",
            messages.WARNING,
        )


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "merchant", "actor_label", "action", "object_type", "object_id", "summary"]
    list_filter = ["merchant", "action", "object_type"]
    search_fields = ["actor_label", "action", "object_id", "summary"]
    date_hierarchy = "created_at"
    list_select_related = ["merchant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
