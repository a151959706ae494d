from rest_framework import serializers


class WhoAmISerializer(serializers.Serializer):
    merchant = serializers.DictField(help_text="The merchant this key belongs to: id, slug, name.")
    key = serializers.DictField(help_text="The key's prefix, name and scopes.")
