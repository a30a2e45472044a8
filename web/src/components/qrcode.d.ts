// The one function of the `qrcode` package the console uses (the package ships no types; its
// @types package would pull Node's types into a browser project).
declare module 'qrcode' {
  interface ToStringOptions {
    type?: 'svg' | 'utf8' | 'terminal'
    errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'
    margin?: number
    width?: number
  }
  const QRCode: { toString(text: string, options?: ToStringOptions): Promise<string> }
  export default QRCode
}
