from django.shortcuts import render

from accounts.decorators import merchant_required


@merchant_required()
def home(request):
    return render(request, "dashboard/home.html")
