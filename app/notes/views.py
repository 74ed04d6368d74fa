from django.shortcuts import render

from notes.models import Note


def index(request):
    notes = Note.objects.all()[:50]
    return render(request, "notes/index.html", {"notes": notes})
