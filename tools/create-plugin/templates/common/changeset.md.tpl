---
'{{packageName}}': minor
---

New package `{{packageName}}`: {{summary}}
