{
  "extends": "{{tsconfigBase}}",
  "compilerOptions": { "noEmit": true },
  "include": ["src"]
}
