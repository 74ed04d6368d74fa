from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200, unique=True)
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.title
