// Hands a file the API returned (an .xlsx export, a workbook) to the browser as a download.
// File names carry run ids and levels only, never personal data.

export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  document.body.appendChild(link)
  link.click()
  link.remove()
  // The browser has taken the file once the click is handled; free the object URL afterwards.
  window.setTimeout(() => URL.revokeObjectURL(url), 30_000)
}
